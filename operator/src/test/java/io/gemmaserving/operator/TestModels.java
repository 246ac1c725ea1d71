package io.gemmaserving.operator;

import io.fabric8.kubernetes.client.utils.Serialization;
import io.gemmaserving.operator.api.GemmaModel;
import io.gemmaserving.operator.api.ServingRuntime;
import io.gemmaserving.operator.plan.ModelPlan;
import io.gemmaserving.operator.plan.ModelPlanner;
import io.gemmaserving.operator.plan.OperatorSettings;
import java.util.List;

/** GemmaModels and ServingRuntimes from YAML text, as users write them. */
public final class TestModels {

    public static final OperatorSettings SETTINGS = new OperatorSettings("example.com/gemma-runtime:cpu",
            "example.com/gemma-runtime:cuda", 1001L, "http://prometheus.monitoring.svc:9090", "cluster.local");

    private TestModels() {
    }

    /** A GemmaModel named {@code name} in namespace "ai" whose spec is the given YAML (indented by two spaces). */
    public static GemmaModel model(String name, String specYaml) {
        GemmaModel m = Serialization.unmarshal("""
                apiVersion: serving.gemma.io/v1alpha1
                kind: GemmaModel
                metadata:
                  name: %s
                  namespace: ai
                  uid: 1f0c2d3e-0000-4000-8000-000000000001
                  generation: 3
                spec:
                %s
                """.formatted(name, specYaml.indent(2)), GemmaModel.class);
        return m;
    }

    public static ServingRuntime runtime(String name, String specYaml) {
        return Serialization.unmarshal("""
                apiVersion: serving.gemma.io/v1alpha1
                kind: ServingRuntime
                metadata:
                  name: %s
                  namespace: ai
                spec:
                %s
                """.formatted(name, specYaml.indent(2)), ServingRuntime.class);
    }

    public static ModelPlan plan(GemmaModel m, ServingRuntime... runtimes) {
        return ModelPlanner.plan(m, List.of(runtimes), SETTINGS);
    }
}
