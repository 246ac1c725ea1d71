package io.gemmaserving.operator.apiserver;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The test API server hands out Service addresses beyond kube-api-test's /24 (the benchmark makes 1000 Services): the
 * API server refuses a clusterIP outside its service ranges, so this fails when the extra range is not in effect.
 */
@Tag("apiserver")
class ServiceRangeTest {

    @Test
    void aServiceCanTakeAnAddressFromTheExtraRange() {
        KubernetesClient client = ApiServer.client();
        String ns = ApiServer.namespace("range");
        String ip = ApiServer.EXTRA_SERVICE_CIDR.replaceFirst("0/16$", "200"); // 10.1.0.200
        Service created = client.resource(new ServiceBuilder().withNewMetadata().withName("wide").withNamespace(ns)
                .endMetadata().withNewSpec().withClusterIP(ip).addNewPort().withPort(80).endPort().endSpec().build())
                .create();
        assertEquals(ip, created.getSpec().getClusterIP());
    }
}
