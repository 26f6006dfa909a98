/**
 * Names (workloads, VM profiles, hosts, disks) become parts of cell ids, file
 * names, libvirt domain names and log lines. Restricting them to lowercase
 * letters, digits and single hyphens keeps them safe in all of those places: no
 * path separators, no shell metacharacters, no case-only collisions.
 */
export const NAME_PATTERN = '^[a-z0-9]+(?:-[a-z0-9]+)*$';
export const NAME_MAX_LENGTH = 40;
export const NAME_HINT =
  "use 1–40 lowercase letters, digits and single hyphens, starting and ending with a letter or digit (names become file names, so no '/', spaces or shell characters)";
