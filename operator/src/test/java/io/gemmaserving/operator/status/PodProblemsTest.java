package io.gemmaserving.operator.status;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Pods built as the kubelet and the scheduler report them, and the one line status makes of each. */
@Tag("unit")
class PodProblemsTest {

    static PodBuilder pod(String name) {
        return new PodBuilder().withNewMetadata().withName(name).withNamespace("ai").endMetadata()
                .withNewSpec().addNewContainer().withName("runtime").withImage("example.com/runtime:1")
                .withNewResources().withLimits(Map.of("memory", new Quantity("1200Mi"))).endResources().endContainer()
                .endSpec();
    }

    static Pod withRuntimeStatus(ContainerStatusBuilder status) {
        return pod("m-1").withNewStatus().withPhase("Running")
                .withContainerStatuses(status.withName("runtime").withImage("example.com/runtime:1").withReady(false)
                        .withRestartCount(3).build()).endStatus().build();
    }

    @Test
    void imagePullBackOffNamesTheImageAndThePullError() {
        Pod p = withRuntimeStatus(new ContainerStatusBuilder().withNewState().withNewWaiting()
                .withReason("ImagePullBackOff").withMessage("Back-off pulling image \"example.com/runtime:1\": not found")
                .endWaiting().endState());
        var problem = PodProblems.worst(List.of(p)).orElseThrow();
        assertThat(problem.reason()).isEqualTo("ImagePullBackOff");
        assertThat(problem.degraded()).isTrue();
        assertThat(problem.message()).contains("example.com/runtime:1").contains("not found");
    }

    @Test
    void crashLoopShowsTheLastLineTheRuntimeWrote() {
        Pod p = withRuntimeStatus(new ContainerStatusBuilder()
                .withNewState().withNewWaiting().withReason("CrashLoopBackOff").withMessage("back-off 40s").endWaiting().endState()
                .withNewLastState().withNewTerminated().withExitCode(1).withReason("Error")
                .withMessage("loading /mnt/models/m.gguf\nerror: /mnt/models/m.gguf: file truncated: tensor blk.3 ends past the end\n")
                .endTerminated().endLastState());
        var problem = PodProblems.worst(List.of(p)).orElseThrow();
        assertThat(problem.reason()).isEqualTo("CrashLoopBackOff");
        assertThat(problem.message()).contains("exit code 1")
                .endsWith("error: /mnt/models/m.gguf: file truncated: tensor blk.3 ends past the end");
    }

    @Test
    void oomKilledNamesTheLimitAndWhatToRaise() {
        Pod p = withRuntimeStatus(new ContainerStatusBuilder()
                .withNewState().withNewWaiting().withReason("CrashLoopBackOff").endWaiting().endState()
                .withNewLastState().withNewTerminated().withExitCode(137).withReason("OOMKilled").endTerminated().endLastState());
        var problem = PodProblems.worst(List.of(p)).orElseThrow();
        assertThat(problem.reason()).isEqualTo("OOMKilled");
        assertThat(problem.message()).contains("1200Mi").contains("spec.resources.limits.memory");
    }

    @Test
    void aJavaHeapExhaustedUnderTheLimitIsReportedAsOomKilledToo() {
        Pod p = withRuntimeStatus(new ContainerStatusBuilder()
                .withNewState().withNewWaiting().withReason("CrashLoopBackOff").endWaiting().endState()
                .withNewLastState().withNewTerminated().withExitCode(1).withReason("Error")
                .withMessage("ExecutionException: java.lang.IllegalStateException: inference failed:"
                        + " java.lang.OutOfMemoryError: Java heap space").endTerminated().endLastState());
        var problem = PodProblems.worst(List.of(p)).orElseThrow();
        assertThat(problem.reason()).isEqualTo("OOMKilled");
        assertThat(problem.message()).contains("Java heap").contains("1200Mi").contains("spec.resources.limits.memory");
    }

    @Test
    void aPodNoNodeCanTakeIsProgressingWithTheSchedulersReason() {
        Pod p = pod("m-2").withNewStatus().withPhase("Pending").addNewCondition().withType("PodScheduled")
                .withStatus("False").withReason("Unschedulable")
                .withMessage("0/2 nodes are available: 1 Insufficient nvidia.com/gpu, 1 node(s) had untolerated taint.")
                .endCondition().endStatus().build();
        var problem = PodProblems.worst(List.of(p)).orElseThrow();
        assertThat(problem.reason()).isEqualTo("Unschedulable");
        assertThat(problem.degraded()).isFalse();
        assertThat(problem.message()).contains("Insufficient nvidia.com/gpu");
    }

    @Test
    void readyContainersAndHealthyPodsSayNothingAndTheWorstOfSeveralWins() {
        Pod recovered = pod("m-3").withNewStatus().withPhase("Running").withContainerStatuses(new ContainerStatusBuilder()
                .withName("runtime").withReady(true).withNewLastState().withNewTerminated().withExitCode(137)
                .withReason("OOMKilled").endTerminated().endLastState().build()).endStatus().build();
        assertThat(PodProblems.worst(List.of(recovered))).isEmpty();
        Pod pulling = withRuntimeStatus(new ContainerStatusBuilder().withNewState().withNewWaiting()
                .withReason("ErrImagePull").endWaiting().endState());
        Pod oom = withRuntimeStatus(new ContainerStatusBuilder().withNewLastState().withNewTerminated().withExitCode(137)
                .withReason("OOMKilled").endTerminated().endLastState());
        var worst = PodProblems.worst(List.of(recovered, pulling, oom)).orElseThrow();
        assertThat(worst.reason()).isEqualTo("OOMKilled");
        assertThat(worst.message()).endsWith("(1 of 3 pods)");
    }
}
