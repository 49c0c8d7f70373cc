/**
 * supervisor: the sender is the victim's parent, stopping or restarting the
 * child it started: supervisord, runit's runsv, s6-supervise, daemontools'
 * supervise, or a shell loop. The parent is known from the victim's execve
 * event in the log (its ppid is the sender, or the parent of the kill(1) the
 * sender is), or from the sender being one of those programs. New PIDs of
 * the same program, stopped one after another, are restarts.
 */
import { plural } from "../describe.ts";
import { catalogueFacts, commandText, graceSentence, launcherText, perVictimNotes, stopStory, victimList } from "./catalogue.ts";
import { defineSequenceDetector, groupBy, type KillSequence } from "./sequences.ts";

const SHELLS = /^(sh|bash|dash|zsh|ksh|mksh|ash|busybox)$/;
/** This many restarts of one program make a restart loop. */
const LOOP_RESTARTS = 3;

/** Distinct PIDs per victim comm, most first. */
function instances(seqs: readonly KillSequence[]): Array<[string, number[]]> {
  const byComm = new Map<string, Set<number>>();
  for (const seq of seqs) {
    const comm = seq.victim.comm ?? "?";
    let pids = byComm.get(comm);
    if (!pids) byComm.set(comm, (pids = new Set()));
    if (seq.victim.pid !== null) pids.add(seq.victim.pid);
  }
  return [...byComm.entries()].map(([comm, pids]) => [comm, [...pids]] as [string, number[]]).sort((a, b) => b[1].length - a[1].length);
}

export const supervisorKill = defineSequenceDetector({
  id: "supervisor",
  title: "A supervisor stopped or restarted its child",
  *detect({ state, options }) {
    for (const seqs of groupBy(state.of("supervisor"), (s) => JSON.stringify([s.killer.node, s.parentPid, s.killer.key]))) {
      const first = seqs[0]!;
      const program = first.program;
      const viaKill = program === null && first.parentPid !== first.killerPid;
      const who = program
        ? `${first.killer.comm ?? "?"} (pid ${first.killerPid ?? "?"}; ${program.what})`
        : viaKill
          ? `the parent (pid ${first.parentPid}) of ${victimList(seqs, 1)}, through kill(1) (pid ${first.killerPid ?? "?"})`
          : `${first.killer.comm ?? "?"} (pid ${first.killerPid ?? "?"}${first.killer.comm !== null && SHELLS.test(first.killer.comm) ? ", a shell loop" : ""})`;
      const runs = instances(seqs);
      const [topComm, topPids] = runs[0]!;
      const restarts = topPids.length - 1;
      const loop = restarts >= LOOP_RESTARTS;
      const story = stopStory(seqs);
      const known = seqs.filter((s) => s.parentKnown).length;
      const notes = [
        known > 0
          ? `Parent confirmed for ${known} of ${plural(seqs.length, "victim")}: ${known === 1 ? "its" : "their"} execve events in the log name pid ${first.parentPid} as parent`
          : `The sender is ${program?.what ?? "a supervisor"}; the log has no execve events that would confirm it is the victims' parent`,
      ];
      for (const [comm, pids] of runs) notes.push(`${comm}: stopped ${plural(pids.length, "time")}, PIDs ${pids.slice(0, 12).join(", ")}${pids.length > 12 ? ", …" : ""}`);
      if (first.killerArgv.length > 0) notes.push(`Sender's command line: ${commandText(first.killerArgv)}`);
      const launcher = launcherText(first);
      if (launcher && first.killerAncestry.length === 0) notes.push(`The sender: ${launcher}`);
      notes.push(...perVictimNotes(seqs));
      yield {
        severity: loop ? "warning" : "info",
        headline:
          `${who} stopped its own child ${topComm} ${plural(topPids.length, "time")}` +
          (restarts > 0 ? ` and started it again ${plural(restarts, "time")} in between${loop ? " (a restart loop)" : ""}` : "") +
          `: ${graceSentence(story, program?.graceMs ?? null, program?.graceSetting ?? null)}` +
          (runs.length > 1 ? `; also ${runs.slice(1).map(([c, p]) => `${c} ×${p.length}`).join(", ")}` : ""),
        explanation:
          "The sender is the process that started the victim: its parent. Supervisors do this when told to stop or restart a service, when a health check fails, " +
          "or when the child does not answer: supervisord (stopsignal, default TERM, then KILL after stopwaitsecs, default 10 s), runit's runsv and s6-supervise (TERM, then CONT), " +
          "or a script that runs a program in a loop and kills it. " +
          (loop
            ? `Here it stopped ${topComm} ${topPids.length} times, each time a new process: something makes it restart the program again and again.`
            : "Nobody else killed the victim: its own parent stopped it."),
        advice:
          "Look at the supervisor's configuration and log for why it stopped the child: a restart command, a health check or timeout, a changed config, or the script's own logic " +
          "(supervisord: `supervisorctl status` and its log, stopsignal/stopwaitsecs; runit: `sv status`, the service's run and finish scripts; s6: s6-svstat; a shell loop: the script, named by the sender's command line and parents). " +
          (loop ? "A restart loop usually means the child fails its check or exits, and the supervisor keeps trying: fix the child's failure, or the check." : ""),
        ...catalogueFacts(seqs, options.maxExamples, notes, { stops: seqs.length, restarts, parentConfirmed: known }),
      };
    }
  },
});
