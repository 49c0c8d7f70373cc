/**
 * tty-hangup: a terminal went away (a terminal window closed, an SSH session
 * dropped, `script` or a tmux server killed) and the kernel's tty layer sent
 * SIGHUP, then SIGCONT, to the session. Also keys typed on a terminal
 * (Ctrl-C, Ctrl-\, Ctrl-Z). No process called kill(): the task tracefs names
 * is the one closing the terminal, or a kworker, never the killer.
 */
import { plural } from "../describe.ts";
import { CauseGroups, causeKey, groupFacts, signalList, taskList } from "./cause-groups.ts";
import { defineDetector } from "./types.ts";

const HANGUP_RULES = new Set(["tty-hangup", "tty-hangup-cont"]);

export const ttyHangup = defineDetector<{ hangups: CauseGroups; keys: CauseGroups }>({
  id: "tty-hangup",
  title: "Terminal hung up",
  init: (options) => ({ hangups: new CauseGroups(options.maxExamples), keys: new CauseGroups(options.maxExamples) }),
  limits: (state) => ({ causeSignalsNotGrouped: state.hangups.notGrouped + state.keys.notGrouped }),
  observe(state, observed) {
    const rule = observed.signal.cause?.rule;
    if (rule === undefined) return;
    // SIGHUP and its SIGCONT are one event: group them together, per host.
    if (HANGUP_RULES.has(rule)) state.hangups.add(JSON.stringify(["hangup", observed.signal.node]), observed);
    else if (rule === "tty-key") state.keys.add(causeKey(observed.signal, observed.signal.signal.nr), observed);
  },
  *detect({ state }) {
    for (const g of state.hangups.groups()) {
      const hups = g.signals.get("SIGHUP") ?? 0;
      if (hups === 0) continue; // a lone SIGCONT is job control, not news
      const conts = g.signals.get("SIGCONT") ?? 0;
      const victims = taskList(g.victims.values(), g.moreVictims);
      const closers = taskList(g.contexts.values());
      const notes: string[] = [];
      if (closers) notes.push(`Running when the terminal hung up (context, not a sender): ${closers}: typically the program whose exit closed the terminal (script, sshd, a terminal emulator, tmux)`);
      if (conts > 0) notes.push(`${plural(hups, "SIGHUP")} and ${plural(conts, "SIGCONT")} from the kernel: the tty layer's hangup pair`);
      yield {
        severity: "warning",
        headline: `A terminal hung up: the kernel's tty layer sent SIGHUP to ${victims} (${plural(hups, "SIGHUP")}${conts ? `, ${plural(conts, "SIGCONT")}` : ""})`,
        explanation:
          "The terminal these processes ran on went away: a terminal window was closed, an SSH connection dropped, or the program holding the terminal " +
          "(script, sshd, tmux, screen) ended. The kernel then sends SIGHUP and SIGCONT to the session leader and the foreground process group; " +
          "SIGHUP's default action ends a process. No process called kill(), so audit has no record of it" +
          (closers ? `, and ${closers} was only running when it happened` : "") +
          ". (The same SIGHUP+SIGCONT pair also goes to a stopped process group left orphaned when its parent exits.)",
        advice:
          "Run long jobs detached from the terminal: `nohup CMD &`, `setsid CMD`, inside tmux or screen, or as a service (a systemd unit, `systemd-run`). " +
          "A program can also ignore or handle SIGHUP. For SSH, find out why the session dropped (network, ClientAliveInterval, an idle timeout).",
        ...groupFacts(g, notes),
      };
    }
    for (const g of state.keys.groups()) {
      const sigs = signalList(g);
      yield {
        title: "Signal from a key typed on the terminal",
        severity: "info",
        headline: `${sigs} from the terminal to ${taskList(g.victims.values(), g.moreVictims)}: ${g.label}`,
        explanation:
          "Someone (or something writing to the terminal, like `script` or an expect script) typed the interrupt, quit or suspend key. " +
          "The kernel's tty layer sends the signal to the terminal's foreground process group; no process called kill().",
        advice: "If nobody typed it, look at what writes to that terminal. A program that must not stop on Ctrl-C can handle SIGINT, or run detached (setsid, nohup).",
        ...groupFacts(g, g.contexts.size ? [`Running when it was generated (context, not a sender): ${taskList(g.contexts.values())}`] : []),
      };
    }
  },
});
