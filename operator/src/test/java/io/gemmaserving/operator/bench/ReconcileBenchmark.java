package io.gemmaserving.operator.bench;

import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.gemmaserving.operator.InProcessOperator;
import io.gemmaserving.operator.TestModels;
import io.gemmaserving.operator.api.GemmaModel;
import io.gemmaserving.operator.apiserver.ApiServer;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A benchmark, tagged {@code bench} (the default run excludes the tag): how fast the operator turns GemmaModels into
 * Deployments on a real kube-apiserver + etcd. Run:
 * {@code ./mvnw -pl operator test -Dgroups=bench -DexcludedGroups= -Dtest=ReconcileBenchmark -Dgemma.bench.models=1000}.
 * Prints and writes target/reconcile-benchmark.txt: operator start-up to first reconcile, apply-to-Deployment latency
 * p50/p99 for N models created by 4 client threads, and the heap the operator's caches hold.
 */
@Tag("bench")
class ReconcileBenchmark {

    @Test
    void applyToDeployment() throws Exception {
        // every model makes a Service: ApiServer adds a second service range so 1000 fit (kube-api-test's own holds ~250)
        int n = Integer.getInteger("gemma.bench.models", 1000);
        KubernetesClient client = ApiServer.client();
        String ns = ApiServer.namespace("bench");
        Map<String, Long> created = new ConcurrentHashMap<>();
        Map<String, Long> seen = new ConcurrentHashMap<>();
        CountDownLatch all = new CountDownLatch(n + 1);
        SharedIndexInformer<Deployment> watch = client.apps().deployments().inNamespace(ns)
                .inform(new ResourceEventHandler<>() {
                    public void onAdd(Deployment d) {
                        if (seen.putIfAbsent(d.getMetadata().getName(), System.nanoTime()) == null) {
                            all.countDown();
                        }
                    }

                    public void onUpdate(Deployment a, Deployment b) {
                    }

                    public void onDelete(Deployment d, boolean unknown) {
                    }
                });

        // start-up: one model exists before the operator starts
        create(client, ns, "first");
        long heapBefore = heap();
        long t0 = System.nanoTime();
        InProcessOperator operator = InProcessOperator.start(client, TestModels.SETTINGS);
        long started = System.nanoTime();
        while (!seen.containsKey("first")) {
            Thread.sleep(5);
        }
        long firstReconciled = seen.get("first");

        ExecutorService pool = Executors.newFixedThreadPool(4);
        long burst = System.nanoTime();
        for (int i = 0; i < n; i++) {
            String name = "m-" + i;
            pool.submit(() -> {
                long t = System.nanoTime();
                create(client, ns, name);
                created.put(name, t);
            });
        }
        pool.shutdown();
        pool.awaitTermination(10, TimeUnit.MINUTES);
        long createsDone = System.nanoTime();
        boolean done = all.await(10, TimeUnit.MINUTES);
        long burstEnd = System.nanoTime();
        Thread.sleep(2000); // let status patches settle before measuring the caches
        watch.close(); // the benchmark's own cache of the Deployments is not the operator's
        long heapAfter = heap();

        double[] ms = created.entrySet().stream().filter(e -> seen.containsKey(e.getKey()))
                .mapToDouble(e -> (seen.get(e.getKey()) - e.getValue()) / 1e6).sorted().toArray();
        String report = String.format(Locale.ROOT, """
                models: %d (%d with a Deployment%s), created by 4 threads
                operator start (register + informers synced): %.0f ms; start to first Deployment: %.0f ms
                apply -> Deployment seen: p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms
                all creates returned after %.1f s; last Deployment after %.1f s (%.1f models/s)
                heap used after GC: %d MiB before the operator, %d MiB with it and %d models cached (+%d MiB)
                processors: %d, JVM: %s
                """, n, ms.length, done ? "" : ", TIMED OUT", (started - t0) / 1e6, (firstReconciled - t0) / 1e6,
                pct(ms, 50), pct(ms, 90), pct(ms, 99), ms.length == 0 ? 0 : ms[ms.length - 1],
                (createsDone - burst) / 1e9, (burstEnd - burst) / 1e9, n / ((burstEnd - burst) / 1e9),
                heapBefore >> 20, heapAfter >> 20, n + 1, (heapAfter - heapBefore) >> 20,
                Runtime.getRuntime().availableProcessors(), Runtime.version());
        System.out.println(report);
        Files.writeString(Path.of("target", "reconcile-benchmark.txt"), report);
        operator.close();
        client.namespaces().withName(ns).delete();
    }

    static void create(KubernetesClient client, String ns, String name) {
        GemmaModel m = Serialization.unmarshal("""
                apiVersion: serving.gemma.io/v1alpha1
                kind: GemmaModel
                metadata: {name: %s}
                spec:
                  source: {uri: "pvc://models/gemma-3-270m-it-Q4_K_M.gguf", variant: gemma-3-270m-it}
                """.formatted(name), GemmaModel.class);
        client.resource(m).inNamespace(ns).create();
    }

    static double pct(double[] sorted, int p) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p / 100.0 * sorted.length) - 1)];
    }

    static long heap() {
        System.gc();
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
