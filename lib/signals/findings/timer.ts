/**
 * timer: a timer the victim armed itself expired (alarm, setitimer, a POSIX
 * timer). The kernel raises the signal from a timer interrupt, in whatever
 * task was running (often `<idle>`): the real "sender" is the timer's owner,
 * the victim. timeout(1) works this way: its own timer tells it time is up.
 */
import { plural } from "../describe.ts";
import { causeKey, defineCauseDetector, groupFacts, signalList, taskList } from "./cause-groups.ts";

const TIMER_RULES = new Set(["posix-timer", "alarm", "cpu-itimer"]);

export const timer = defineCauseDetector({
  id: "timer",
  title: "A process's own timer fired",
  observe(groups, observed) {
    const { signal } = observed;
    const rule = signal.cause?.rule;
    if (rule === undefined || !TIMER_RULES.has(rule)) return;
    const victim = signal.victims[0];
    groups.add(causeKey(signal, victim?.comm ?? null, signal.signal.nr), observed);
  },
  *detect({ state }) {
    for (const g of state.groups()) {
      const owners = taskList(g.victims.values(), g.moreVictims);
      const contexts = taskList(g.contexts.values());
      const notes = [`The timer's owner, and so the sender: ${owners}`];
      if (contexts) notes.push(`Running when the timer interrupt fired (context, not a sender): ${contexts}`);
      yield {
        severity: "info",
        headline: `${signalList(g)} to ${owners} from its own timer (${plural(g.count, "signal")}): ${g.label}`,
        explanation:
          "The process armed this timer itself, and the kernel delivered the timer's signal to it when it expired. " +
          "The kernel raises it from a timer interrupt, in whatever task happens to run then, so that task is not the sender: the timer's owner is. " +
          "Without a handler the signal ends the process (SIGALRM, SIGVTALRM and SIGPROF terminate by default). " +
          "timeout(1) arms such a timer for its duration; when it fires, timeout sends its own signal (SIGTERM by default) to the command it runs.",
        advice:
          "If the process died of it, look for alarm(), setitimer() or timer_create() in the program or a library it uses (a watchdog, a time limit). " +
          "If the owner is timeout(1) or a similar wrapper, the command it ran took longer than the limit: raise the duration, or make the command faster.",
        ...groupFacts(g, notes),
      };
    }
  },
});
