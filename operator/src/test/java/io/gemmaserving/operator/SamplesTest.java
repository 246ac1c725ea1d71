package io.gemmaserving.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.gemmaserving.operator.api.GemmaModel;
import io.gemmaserving.operator.api.ServingRuntime;
import io.gemmaserving.operator.dependent.DeploymentDependent;
import io.gemmaserving.operator.plan.ModelPlan;
import io.gemmaserving.operator.plan.ModelPlanner;
import io.gemmaserving.runtime.engine.ServeOptions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The samples plan into deployable models whose args the runtime's own CLI parser accepts. */
@Tag("unit")
class SamplesTest {

    static Map<String, ModelPlan> plans() {
        List<GemmaModel> models = new ArrayList<>();
        List<ServingRuntime> runtimes = new ArrayList<>();
        for (Path f : Samples.files()) {
            for (HasMetadata doc : Samples.documents(f)) {
                // typed through JSON, as the API server would hand them to the operator
                if (doc.getKind().equals("GemmaModel")) {
                    models.add(Serialization.unmarshal(Serialization.asJson(doc), GemmaModel.class));
                } else if (doc.getKind().equals("ServingRuntime")) {
                    runtimes.add(Serialization.unmarshal(Serialization.asJson(doc), ServingRuntime.class));
                }
            }
        }
        Map<String, ModelPlan> plans = new TreeMap<>();
        for (GemmaModel m : models) {
            m.getMetadata().setNamespace("samples");
            m.getMetadata().setGeneration(1L);
            runtimes.forEach(r -> r.getMetadata().setNamespace("samples"));
            plans.put(m.getMetadata().getName(), ModelPlanner.plan(m, runtimes, TestModels.SETTINGS));
        }
        return plans;
    }

    @Test
    void everySampleModelIsDeployableAndItsArgsParse() {
        Map<String, ModelPlan> plans = plans();
        assertTrue(plans.size() >= 5, "sample models: " + plans.keySet());
        plans.forEach((name, p) -> {
            assertTrue(p.deployable(), name + ": " + p.issues);
            var args = DeploymentDependent.build(p).getSpec().getTemplate().getSpec().getContainers().getFirst().getArgs();
            ServeOptions o = ServeOptions.parse(args.toArray(String[]::new));
            assertEquals(p.modelPath, o.model.toString(), name);
            assertEquals(p.tensorParallelSize, o.tensorParallelSize, name);
        });
    }

    @Test
    void samplesSizeAsTheirCommentsSay() {
        Map<String, ModelPlan> plans = plans();
        assertEquals(1, plans.get("gemma-2-9b-it").tensorParallelSize);
        assertEquals("gemma-java-cuda", plans.get("gemma-2-9b-it").runtime.name());
        assertEquals(2, plans.get("gemma-2-27b-it").tensorParallelSize);
        assertEquals("gemma-java-cpu", plans.get("gemma-3-270m-it").runtime.name());
        assertEquals("/mnt/models/gemma-3-270m-it-Q4_K_M.gguf", plans.get("gemma-3-270m-it").modelPath);
        ModelPlan keda = plans.get("gemma-2-9b-it-autoscaled");
        assertTrue(keda.keda);
        assertNull(keda.replicas);
        assertEquals(0, keda.minReplicas);
        assertFalse(plans.get("gemma-3-270m-it-modelcar").gpu);
    }
}
