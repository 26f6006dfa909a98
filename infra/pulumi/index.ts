/** Pulumi entry point (Pulumi.yaml → infra/pulumi/entry.js → here): the stack's outputs. */
import { program } from './program.js';

const outputs = await program();
export const inventory = outputs.inventory;
