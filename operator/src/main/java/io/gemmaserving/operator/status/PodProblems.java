package io.gemmaserving.operator.status;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerStateTerminated;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * What the model's pods say that their Deployment does not: an image that cannot be pulled, a container that keeps
 * exiting, one killed for its memory, a pod no node can take. The worst one becomes status, in one line a person can
 * act on.
 */
public final class PodProblems {

    /** Reasons this class puts on the Degraded (or Progressing) and Ready conditions. */
    public static final String IMAGE_PULL = "ImagePullBackOff";
    public static final String INVALID_IMAGE = "InvalidImageName";
    public static final String CONFIG_ERROR = "CreateContainerConfigError";
    public static final String CREATE_ERROR = "CreateContainerError";
    public static final String OOM_KILLED = "OOMKilled";
    public static final String CRASH_LOOP = "CrashLoopBackOff";
    public static final String UNSCHEDULABLE = "Unschedulable";

    /**
     * @param degraded true: nothing gets better without a change (Degraded); false: waiting on the cluster
     *                 (Progressing), as for a pod waiting for a free GPU
     * @param rank     lower is worse: the problem reported when pods have several
     */
    public record Problem(String reason, String message, boolean degraded, int rank) {
    }

    private PodProblems() {
    }

    /** The worst problem among the pods (deleted ones and ready containers do not count), with how many pods have it. */
    public static Optional<Problem> worst(List<Pod> pods) {
        List<Problem> all = new ArrayList<>();
        List<Pod> live = pods.stream().filter(p -> p.getMetadata().getDeletionTimestamp() == null).toList();
        for (Pod pod : live) {
            of(pod).ifPresent(all::add);
        }
        Optional<Problem> worst = all.stream().min(Comparator.comparingInt(Problem::rank));
        return worst.map(w -> {
            long same = all.stream().filter(x -> x.reason().equals(w.reason())).count();
            return live.size() < 2 ? w : new Problem(w.reason(), w.message() + " (" + same + " of " + live.size()
                    + " pods)", w.degraded(), w.rank());
        });
    }

    public static Optional<Problem> of(Pod pod) {
        if (pod.getStatus() == null) {
            return Optional.empty();
        }
        String name = pod.getMetadata().getName();
        List<Problem> found = new ArrayList<>();
        Stream.concat(statuses(pod.getStatus().getInitContainerStatuses()), statuses(pod.getStatus().getContainerStatuses()))
                .filter(c -> !Boolean.TRUE.equals(c.getReady()))
                .forEach(c -> container(pod, c).ifPresent(found::add));
        if (found.isEmpty() && pod.getStatus().getConditions() != null) {
            for (PodCondition c : pod.getStatus().getConditions()) {
                if ("PodScheduled".equals(c.getType()) && "False".equals(c.getStatus())
                        && UNSCHEDULABLE.equals(c.getReason())) {
                    found.add(new Problem(UNSCHEDULABLE, "pod " + name + " waits for a node: " + OneLine.of(c.getMessage(), 600)
                            + " (free the resources it requests, add nodes, or lower what the model asks for)", false, 6));
                }
            }
        }
        return found.stream().min(Comparator.comparingInt(Problem::rank));
    }

    private static Stream<ContainerStatus> statuses(List<ContainerStatus> s) {
        return s == null ? Stream.empty() : s.stream();
    }

    static Optional<Problem> container(Pod pod, ContainerStatus c) {
        String who = "container " + c.getName() + " of pod " + pod.getMetadata().getName();
        ContainerStateTerminated last = c.getLastState() == null ? null : c.getLastState().getTerminated();
        ContainerStateTerminated now = c.getState() == null ? null : c.getState().getTerminated();
        ContainerStateTerminated terminated = now != null ? now : last;
        // The kernel's OOM kill, or the JVM's own: its heap is a share of the limit (MaxRAMPercentage), so a limit
        // too small usually ends in an OutOfMemoryError before the cgroup is full. Either way the fix is the limit.
        boolean heap = terminated != null && terminated.getMessage() != null
                && terminated.getMessage().contains("OutOfMemoryError");
        if (terminated != null && (OOM_KILLED.equals(terminated.getReason()) || heap)) {
            String limit = memoryLimit(pod, c.getName()).map(q -> " of " + q).orElse("");
            String what = heap ? " ran out of Java heap under its memory limit" + limit
                    + " (OOMKilled: java.lang.OutOfMemoryError)"
                    : " was killed for exceeding its memory limit" + limit + " (OOMKilled)";
            return Optional.of(new Problem(OOM_KILLED, who + what
                    + ": raise spec.resources.limits.memory above" + (limit.isEmpty() ? " it" : limit)
                    + ", or lower serving.maxContextLength or serving.maxConcurrentSequences", true, 1));
        }
        String waiting = c.getState() == null || c.getState().getWaiting() == null ? null : c.getState().getWaiting().getReason();
        String waitingMessage = waiting == null ? "" : OneLine.of(c.getState().getWaiting().getMessage(), 600);
        if ("ErrImagePull".equals(waiting) || IMAGE_PULL.equals(waiting)) {
            return Optional.of(new Problem(IMAGE_PULL, who + " cannot pull image " + c.getImage()
                    + (waitingMessage.isEmpty() ? "" : ": " + waitingMessage)
                    + " (check the image reference and the registry's pull secret)", true, 2));
        }
        if (INVALID_IMAGE.equals(waiting) || CONFIG_ERROR.equals(waiting) || CREATE_ERROR.equals(waiting)) {
            return Optional.of(new Problem(waiting, who + ": " + (waitingMessage.isEmpty() ? waiting : waitingMessage),
                    true, 3));
        }
        boolean failed = terminated != null && terminated.getExitCode() != null && terminated.getExitCode() != 0;
        if (CRASH_LOOP.equals(waiting) || failed) {
            String last1 = terminated == null ? "" : lastLine(terminated.getMessage());
            String exit = terminated == null || terminated.getExitCode() == null ? ""
                    : " with exit code " + terminated.getExitCode();
            return Optional.of(new Problem(CRASH_LOOP, who + " keeps exiting" + exit
                    + (last1.isEmpty() ? " (see its log)" : ": " + last1), true, 4));
        }
        return Optional.empty();
    }

    static Optional<Quantity> memoryLimit(Pod pod, String container) {
        if (pod.getSpec() == null) {
            return Optional.empty();
        }
        return Stream.concat(pod.getSpec().getContainers() == null ? Stream.<Container>empty() : pod.getSpec().getContainers().stream(),
                        pod.getSpec().getInitContainers() == null ? Stream.<Container>empty() : pod.getSpec().getInitContainers().stream())
                .filter(x -> container.equals(x.getName()))
                .map(x -> x.getResources() == null || x.getResources().getLimits() == null ? null
                        : x.getResources().getLimits().get("memory"))
                .filter(java.util.Objects::nonNull).findFirst();
    }

    /**
     * The last line of a termination message that says something: the runtime's last log lines when it exited
     * before writing one (terminationMessagePolicy FallbackToLogsOnError), minus stack frames.
     */
    static String lastLine(String message) {
        if (message == null) {
            return "";
        }
        String[] lines = message.split("\\R");
        for (int i = lines.length - 1; i >= 0; i--) {
            String s = lines[i].strip();
            if (s.isEmpty() || s.startsWith("at ") || s.matches("\\.\\.\\. \\d+ more")) {
                continue;
            }
            return OneLine.of(s, 600);
        }
        return "";
    }
}
