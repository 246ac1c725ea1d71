package io.gemmaserving.operator.api;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Admission rules the CRD generator has no annotation for, added to the generated schema (build time only):
 * <ul>
 *   <li>every quantity (an int-or-string: in these CRDs each is a Kubernetes Quantity) gets the quantity grammar as
 *       its pattern, so {@code memory: lots} is refused naming its field;</li>
 *   <li>{@code env} lists are maps keyed by name: a name is required, follows {@link Grammar#ENV_NAME}, and appears
 *       once;</li>
 *   <li>a ServingRuntime's {@code supportedModelFormats} is a map keyed by name: each format once.</li>
 * </ul>
 */
final class SchemaRules {

    private SchemaRules() {
    }

    static void apply(CustomResourceDefinition crd) {
        String kind = crd.getSpec().getNames().getKind();
        crd.getSpec().getVersions().forEach(v -> {
            JSONSchemaProps root = v.getSchema().getOpenAPIV3Schema();
            walk(root, n -> {
                if (Boolean.TRUE.equals(n.getXKubernetesIntOrString()) && n.getPattern() == null) {
                    n.setPattern(Grammar.QUANTITY);
                }
            });
            JSONSchemaProps spec = root.getProperties().get("spec");
            envByName(spec.getProperties().get("env"));
            if ("ServingRuntime".equals(kind)) {
                mapByName(spec.getProperties().get("supportedModelFormats"));
            }
        });
    }

    static void envByName(JSONSchemaProps env) {
        mapByName(env);
        JSONSchemaProps name = env.getItems().getSchema().getProperties().get("name");
        name.setPattern(Grammar.ENV_NAME);
        name.setMaxLength(256L);
    }

    /** A list of objects keyed by their name: the API server refuses a missing name and a repeated one. */
    static void mapByName(JSONSchemaProps list) {
        list.setXKubernetesListType("map");
        list.setXKubernetesListMapKeys(List.of("name"));
        JSONSchemaProps item = list.getItems().getSchema();
        List<String> required = item.getRequired() == null ? new ArrayList<>() : new ArrayList<>(item.getRequired());
        if (!required.contains("name")) {
            required.add("name");
        }
        item.setRequired(required);
    }

    static void walk(JSONSchemaProps n, Consumer<JSONSchemaProps> visit) {
        if (n == null) {
            return;
        }
        visit.accept(n);
        if (n.getProperties() != null) {
            n.getProperties().values().forEach(p -> walk(p, visit));
        }
        if (n.getItems() != null) {
            walk(n.getItems().getSchema(), visit);
        }
        if (n.getAdditionalProperties() != null) {
            walk(n.getAdditionalProperties().getSchema(), visit);
        }
    }
}
