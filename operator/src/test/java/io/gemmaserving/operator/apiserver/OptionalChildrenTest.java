package io.gemmaserving.operator.apiserver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.gemmaserving.operator.InProcessOperator;
import io.gemmaserving.operator.TestModels;
import io.gemmaserving.operator.api.GemmaModel;
import io.gemmaserving.operator.dependent.ApiDiscovery;
import io.gemmaserving.operator.dependent.OptionalKinds;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Where KEDA, OpenShift routes and the Prometheus Operator are installed (stand-in CRDs for their kinds here), the
 * operator adds a ScaledObject (instead of the HPA), a Route (its URL goes to status) and a ServiceMonitor. The CRDs
 * are removed afterwards so the other API-server tests see a plain cluster.
 */
@Tag("apiserver")
class OptionalChildrenTest {

    static KubernetesClient admin;
    static KubernetesClient asOperator;
    static InProcessOperator operator;
    static String ns;
    static final List<CustomResourceDefinition> CRDS = List.of(
            crd("keda.sh", "v1alpha1", "ScaledObject", "scaledobjects"),
            crd("route.openshift.io", "v1", "Route", "routes"),
            crd("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors"));

    static CustomResourceDefinition crd(String group, String version, String kind, String plural) {
        return new CustomResourceDefinitionBuilder().withNewMetadata().withName(plural + "." + group).endMetadata()
                .withNewSpec().withGroup(group).withScope("Namespaced")
                .withNewNames().withKind(kind).withPlural(plural).withSingular(kind.toLowerCase()).endNames()
                .addNewVersion().withName(version).withServed(true).withStorage(true)
                .withNewSchema().withNewOpenAPIV3Schema().withType("object").withXKubernetesPreserveUnknownFields(true)
                .endOpenAPIV3Schema().endSchema()
                .withNewSubresources().withNewStatus().endStatus().endSubresources()
                .endVersion().endSpec().build();
    }

    @BeforeAll
    static void start() throws Exception {
        admin = ApiServer.client();
        for (CustomResourceDefinition crd : CRDS) {
            admin.resource(crd).serverSideApply();
            admin.resource(crd).waitUntilCondition(d -> d.getStatus() != null && d.getStatus().getConditions() != null
                    && d.getStatus().getConditions().stream().anyMatch(c -> c.getType().equals("Established")
                    && c.getStatus().equals("True")), 30, TimeUnit.SECONDS);
        }
        asOperator = ApiServer.asOperator();
        ns = ApiServer.namespace("optional");
        ApiDiscovery.forget();
        operator = InProcessOperator.start(asOperator, TestModels.SETTINGS);
    }

    @AfterAll
    static void stop() {
        ApiDiscovery.forget();
        if (operator != null) {
            operator.close();
            asOperator.close();
        }
        if (admin != null) {
            CRDS.forEach(c -> admin.resource(c).delete());
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void kedaRouteAndServiceMonitorWhereTheirApisExist() {
        GemmaModel m = Serialization.unmarshal("""
                apiVersion: serving.gemma.io/v1alpha1
                kind: GemmaModel
                metadata: {name: scaled}
                spec:
                  source: {uri: "pvc://models/x.gguf"}
                  autoscaling: {minReplicas: 0, maxReplicas: 3, mode: KEDA, targetQueueDepth: 2}
                """, GemmaModel.class);
        admin.resource(m).inNamespace(ns).create();
        var so = OperatorOnApiServerTest.await("scaledobject", () ->
                admin.resources(OptionalKinds.ScaledObject.class).inNamespace(ns).withName("scaled").get());
        var spec = (Map<String, Object>) so.getAdditionalProperties().get("spec");
        assertEquals(0, ((Number) spec.get("minReplicaCount")).intValue());
        assertEquals("ScaledObject", so.getKind());
        assertEquals("GemmaModel", so.getMetadata().getOwnerReferences().getFirst().getKind());
        OperatorOnApiServerTest.await("servicemonitor", () ->
                admin.resources(OptionalKinds.ServiceMonitor.class).inNamespace(ns).withName("scaled").get());
        var route = OperatorOnApiServerTest.await("route", () ->
                admin.resources(OptionalKinds.Route.class).inNamespace(ns).withName("scaled").get());
        assertNull(admin.autoscaling().v2().horizontalPodAutoscalers().inNamespace(ns).withName("scaled").get(),
                "KEDA present: no HPA");

        // the router admits the route: its host becomes status.url
        route.getAdditionalProperties().put("status", Map.of("ingress", List.of(Map.of("host", "scaled-optional.apps.example.com"))));
        admin.resources(OptionalKinds.Route.class).inNamespace(ns).resource(route).updateStatus();
        OperatorOnApiServerTest.await("status.url", () -> {
            GemmaModel g = admin.resources(GemmaModel.class).inNamespace(ns).withName("scaled").get();
            return g.getStatus() != null && "https://scaled-optional.apps.example.com".equals(g.getStatus().url);
        });

        // autoscaling removed: the ScaledObject goes
        admin.resources(GemmaModel.class).inNamespace(ns).withName("scaled").edit(g -> {
            g.getSpec().autoscaling = null;
            return g;
        });
        OperatorOnApiServerTest.await("scaledobject removed", () ->
                admin.resources(OptionalKinds.ScaledObject.class).inNamespace(ns).withName("scaled").get() == null);
    }
}
