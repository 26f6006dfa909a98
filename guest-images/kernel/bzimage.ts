/**
 * The version string an x86 bzImage carries in its setup header (the boot
 * protocol's `kernel_version` field): how the lab tells a bzImage's release
 * without booting it, and so whether a modules directory belongs to it.
 * Pure: bytes in, release out.
 */

/** `6.1.192-lab (root@host) #1 SMP …` → `6.1.192-lab`; undefined when the bytes are not a bzImage. */
export function bzImageRelease(image: Uint8Array): string | undefined {
  if (image.length < 0x212) return undefined;
  // "HdrS" at 0x202 marks the setup header of the Linux x86 boot protocol.
  if (String.fromCharCode(image[0x202]!, image[0x203]!, image[0x204]!, image[0x205]!) !== 'HdrS') return undefined;
  const protocol = image[0x206]! | (image[0x207]! << 8);
  if (protocol < 0x200) return undefined;
  // kernel_version (0x20E) is an offset from 0x200 to a NUL-terminated string.
  const offset = (image[0x20e]! | (image[0x20f]! << 8)) + 0x200;
  if (offset >= image.length) return undefined;
  let end = offset;
  while (end < image.length && end - offset < 512 && image[end] !== 0) end++;
  const text = Buffer.from(image.subarray(offset, end)).toString('latin1');
  const release = text.split(' ')[0];
  return release && /^\d+\.\d+/.test(release) ? release : undefined;
}
