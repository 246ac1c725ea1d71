package io.gemmaserving.operator.apiserver;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.http.HttpClient;
import io.fabric8.kubernetes.client.http.HttpResponse;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The columns {@code kubectl get gm} prints, as the API server serves them: kubectl asks for a meta.k8s.io Table and
 * prints its columnDefinitions in order.
 */
@Tag("apiserver")
class PrinterColumnsTest {

    static List<String> columns(String plural) throws Exception {
        KubernetesClient client = ApiServer.client();
        String ns = ApiServer.namespace("columns");
        HttpClient http = client.getHttpClient();
        HttpResponse<String> response = http.sendAsync(http.newHttpRequestBuilder()
                .uri(client.getMasterUrl().toURI().resolve("/apis/serving.gemma.io/v1alpha1/namespaces/" + ns + "/" + plural))
                .header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").build(), String.class)
                .get(30, TimeUnit.SECONDS);
        assertEquals(200, response.code(), response.body());
        JsonNode table = Serialization.jsonMapper().readTree(response.body());
        assertEquals("Table", table.path("kind").asText(), response.body());
        List<String> names = new ArrayList<>();
        table.path("columnDefinitions").forEach(c -> names.add(c.path("name").asText()));
        return names;
    }

    @Test
    void kubectlGetGemmaModelsShowsReadyReplicasTpEndpointAge() throws Exception {
        assertEquals(List.of("Name", "READY", "REPLICAS", "TP", "ENDPOINT", "AGE"), columns("gemmamodels"));
    }

    @Test
    void kubectlGetServingRuntimesShowsImageThenAge() throws Exception {
        assertEquals(List.of("Name", "IMAGE", "AGE"), columns("servingruntimes"));
    }
}
