/** The command table. Order here is the order of `--help` and docs/cli.md. */
import type { CommandSpec } from '../table.js';
import { baselineCommand, compareCommand, reportCommand } from './analysis.js';
import { bisectCommand } from './bisect.js';
import { imageCommand } from './image.js';
import { kernelCommand } from './kernel.js';
import { mergeCommand } from './merge.js';
import { planCommand } from './plan.js';
import { runCommand } from './run.js';
import { reproCommand, sweepCommand } from './sweep.js';
import { traceCheckCommand } from './trace-check.js';
import { downCommand, upCommand } from './up-down.js';
import { validateCommand } from './validate.js';

export const COMMANDS: readonly CommandSpec[] = [validateCommand, planCommand, sweepCommand, mergeCommand, reproCommand, imageCommand, kernelCommand, bisectCommand, upCommand, runCommand, traceCheckCommand, downCommand, reportCommand, compareCommand, baselineCommand];
