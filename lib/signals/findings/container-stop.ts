/**
 * container-stop: a container runtime or orchestrator (containerd-shim,
 * runc, crun, conmon, dockerd, kubelet) stopping a container: its stop
 * signal (SIGTERM, or the image's STOPSIGNAL) to the container's processes,
 * then SIGKILL after the grace period (docker stop: 10 s; Kubernetes'
 * terminationGracePeriodSeconds: 30 s).
 */
import { formatSpan, plural } from "../describe.ts";
import { catalogueFacts, graceSentence, matchesDefault, perVictimNotes, stopStory, typicalGrace, victimList } from "./catalogue.ts";
import { defineSequenceDetector, stopEpisodes } from "./sequences.ts";

const DOCKER_MS = 10_000;
const KUBERNETES_MS = 30_000;

/** Which documented default a measured grace period matches. */
function graceOrigin(graceMs: number): string | null {
  if (matchesDefault(graceMs, DOCKER_MS)) return "docker stop's default, 10 s";
  if (matchesDefault(graceMs, KUBERNETES_MS)) return "Kubernetes' default terminationGracePeriodSeconds, 30 s";
  return null;
}

export const containerStop = defineSequenceDetector({
  id: "container-stop",
  title: "A container runtime stopped a container",
  *detect({ state, options }) {
    for (const seqs of stopEpisodes(state.of("container"))) {
      const first = seqs[0]!;
      const program = first.program!;
      const story = stopStory(seqs);
      const grace = typicalGrace(story);
      const origin = grace !== null ? graceOrigin(grace) : null;
      const kubelet = program.names.includes("kubelet");
      const notes = perVictimNotes(seqs);
      notes.push(`Sender: ${program.what}`);
      if (grace !== null) notes.push(origin ? `Grace period ${formatSpan(grace)}: ${origin}` : `Grace period ${formatSpan(grace)}: set for this container (docker stop -t, StopTimeout, terminationGracePeriodSeconds)`);
      notes.push(
        "Which container: the victims' cgroup names it (/docker/<id>, …/docker-<id>.scope, /kubepods/…/pod<uid>/<id>, …/cri-containerd-<id>.scope, …/libpod-<id>.scope); " +
          (kubelet ? "kubelet's log says `Killing container with a grace period` with the pod and container." : "dockerd's log says `Container failed to exit within 10s of signal 15 - using the force` when it had to SIGKILL."),
      );
      yield {
        severity: story.forced.length > 0 ? "warning" : "info",
        headline:
          `${first.killer.comm ?? "a container runtime"} (${program.what}) stopped ${plural(seqs.length, "process", "processes")} of a container: ${victimList(seqs)}: ` +
          (origin !== null ? graceSentence(story, grace, origin) : graceSentence(story, program.graceMs, program.graceSetting)),
        explanation:
          "Stopping a container (docker stop, docker restart, podman stop, a pod deleted, scaled down, evicted or restarted after a failed liveness probe) " +
          "sends the container's stop signal (SIGTERM unless the image sets STOPSIGNAL) to its main process, and SIGKILL when the grace period runs out: " +
          "10 s for docker stop, 30 s for a Kubernetes pod (terminationGracePeriodSeconds). The runtime process that sends them is containerd-shim, runc or crun (Docker, containerd), conmon (Podman), sometimes dockerd. " +
          (story.forced.length > 0
            ? `Here the process did not exit within ${grace !== null ? formatSpan(grace) : "the grace period"}, so it was killed.`
            : "Here no SIGKILL followed: it exited within the grace period."),
        advice:
          "Find who stopped the container: `docker events`, dockerd's or kubelet's log (`kubectl describe pod`, `kubectl get events`: evictions, liveness probe failures, rollouts). " +
          (story.forced.length > 0
            ? "Make the program exit on SIGTERM: PID 1 in a container has no default signal handlers, so a shell or program that does not handle SIGTERM ignores it (use exec in entrypoint scripts, or an init such as tini / --init). " +
              "If it needs longer to shut down, raise docker stop -t / StopTimeout, or terminationGracePeriodSeconds."
            : "If the stop was not wanted, look at restart policies, health checks and the orchestrator's events."),
        ...catalogueFacts(seqs, options.maxExamples, notes, grace !== null ? { graceMs: grace, forced: story.forced.length } : {}),
      };
    }
  },
});
