package io.gemmaserving.operator.node;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The images a real node pulls, from the local registry hack/registry.sh runs (hack/images.sh builds and pushes them):
 * the CPU runtime server, the operator and the Gemma 3 270M modelcar (KServe's layout: the GGUF under /models, and sh).
 */
public final class Images {

    /** host:port of the registry (GEMMA_REGISTRY_ADDR, as hack/registry.sh reads it). */
    public static final String REGISTRY = env("GEMMA_REGISTRY_ADDR", "localhost:5000");
    public static final String RUNTIME = REGISTRY + "/gemma-serving/gemma-runtime:0.1.0";
    public static final String OPERATOR = REGISTRY + "/gemma-serving/gemma-operator:0.1.0";
    public static final String MODELCAR = REGISTRY + "/gemma-serving/modelcar-gemma-3-270m:q4_k_m";
    /** The GGUF's name under the modelcar's /models. */
    public static final String MODELCAR_FILE = "gemma-3-270m-q4_k_m.gguf";

    private Images() {
    }

    /** Empty when the registry answers and holds every image; otherwise why not, naming what makes them. */
    public static Optional<String> missing() {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        try {
            int status = http.send(HttpRequest.newBuilder(URI.create("http://" + REGISTRY + "/v2/"))
                    .timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.discarding()).statusCode();
            if (status != 200) return Optional.of("registry http://" + REGISTRY + "/v2/ answers " + status);
        } catch (IOException e) {
            return Optional.of("no registry at http://" + REGISTRY + " (run hack/registry.sh start): " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.of("interrupted");
        }
        List<String> absent = new ArrayList<>();
        for (String image : List.of(RUNTIME, OPERATOR, MODELCAR)) {
            if (!present(http, image)) absent.add(image);
        }
        return absent.isEmpty() ? Optional.empty()
                : Optional.of("images absent from the registry (run hack/images.sh): " + absent);
    }

    private static boolean present(HttpClient http, String image) {
        String path = image.substring(REGISTRY.length() + 1);
        int colon = path.lastIndexOf(':');
        URI manifest = URI.create("http://" + REGISTRY + "/v2/" + path.substring(0, colon) + "/manifests/"
                + path.substring(colon + 1));
        try {
            return http.send(HttpRequest.newBuilder(manifest).timeout(Duration.ofSeconds(5))
                    .header("Accept", String.join(",", "application/vnd.oci.image.index.v1+json",
                            "application/vnd.oci.image.manifest.v1+json",
                            "application/vnd.docker.distribution.manifest.v2+json",
                            "application/vnd.docker.distribution.manifest.list.v2+json"))
                    .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : v.trim();
    }
}
