#!/usr/bin/env bun
/**
 * TEST ONLY: a `setup-rule install` that is a process of its own, started
 * ahead and told when to run: argv is the RuleOptions as JSON and a state
 * dir. It prints `ready`, waits for a line on stdin, installs, and prints
 * the InstallReport as one JSON line. Lets a test switch audit off and have
 * a fresh process switch it on again within milliseconds.
 */
import { installRules } from "../../lib/rules/install.ts";

const [optionsJson, stateDir] = process.argv.slice(2);
process.stdout.write("ready\n");
for await (const _ of console) break;
const report = installRules(JSON.parse(optionsJson!), { stateDir });
process.stdout.write(`${JSON.stringify(report)}\n`);
