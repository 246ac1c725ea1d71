package io.gemmaserving.operator.status;

import io.fabric8.kubernetes.api.model.Status;
import io.fabric8.kubernetes.api.model.StatusCause;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.gemmaserving.operator.dependent.DeploymentDependent;
import io.gemmaserving.operator.plan.ModelPlan;
import io.javaoperatorsdk.operator.api.reconciler.dependent.DependentResource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A child the API server (or anything else) would not let the operator apply, told in one line that names the
 * GemmaModel field the problem came from where there is one:
 * {@code spec.env[0].name: Required value (the API server refused the Deployment)}.
 */
public final class ChildFailures {

    /**
     * @param kind   the child's kind (Deployment, Service, ...)
     * @param line   for status: one line, at most {@link OneLine#MAX_CHARS}
     * @param detail for the log and the Event: the API server's whole answer (every cause), without stack frames
     */
    public record Failure(String kind, String line, String detail) {
    }

    private static final Pattern ENV = Pattern.compile("^spec\\.template\\.spec\\.containers\\[0]\\.env\\[(\\d+)](.*)$");
    private static final Pattern TOLERATION = Pattern.compile("^spec\\.template\\.spec\\.tolerations\\[(\\d+)](.*)$");
    private static final Pattern VOLUME = Pattern.compile("^spec\\.template\\.spec\\.volumes\\[(\\d+)](.*)$");

    private ChildFailures() {
    }

    @SuppressWarnings("rawtypes")
    public static List<Failure> of(ModelPlan plan, Map<DependentResource, Exception> errored) {
        List<Failure> failures = new ArrayList<>();
        errored.forEach((dependent, e) -> failures.add(of(plan, dependent.resourceType().getSimpleName(), e)));
        failures.sort(java.util.Comparator.comparing(Failure::kind));
        return failures;
    }

    public static Failure of(ModelPlan plan, String kind, Throwable e) {
        KubernetesClientException k = find(e);
        Status status = k == null ? null : k.getStatus();
        if (status == null) {
            String text = OneLine.of(e);
            return new Failure(kind, OneLine.of("could not apply the " + kind + ": " + text), text);
        }
        String refused = "(the API server refused the " + kind + ")";
        List<StatusCause> causes = status.getDetails() == null || status.getDetails().getCauses() == null
                ? List.of() : status.getDetails().getCauses();
        String detail = OneLine.of(status.getMessage() == null ? k.getMessage() : status.getMessage(), 8 * OneLine.MAX_CHARS);
        if (causes.isEmpty()) {
            String why = status.getMessage() != null ? status.getMessage() : OneLine.of(e);
            return new Failure(kind, OneLine.of(why + " " + refused), detail);
        }
        List<String> parts = new ArrayList<>();
        for (StatusCause c : causes) {
            String field = c.getField() == null ? null : modelField(plan, kind, c.getField())
                    .orElse(kind + " " + c.getField());
            String message = c.getMessage() != null ? c.getMessage() : c.getReason();
            String part = field == null ? message : field + ": " + message;
            if (!parts.contains(part)) {
                parts.add(part);
            }
        }
        return new Failure(kind, OneLine.of(String.join("; ", parts) + " " + refused), detail);
    }

    static KubernetesClientException find(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof KubernetesClientException k) {
                return k;
            }
        }
        return null;
    }

    /**
     * The GemmaModel (or ServingRuntime) field a child's field is made from, when the child field comes from one.
     * The name, labels and selector of every child are the model's name.
     */
    public static Optional<String> modelField(ModelPlan p, String kind, String childField) {
        if (childField.startsWith("metadata.name") || childField.startsWith("metadata.labels")
                || childField.startsWith("spec.template.metadata.labels") || childField.startsWith("spec.selector")) {
            return Optional.of("metadata.name");
        }
        if (!"Deployment".equals(kind)) {
            return Optional.empty();
        }
        Matcher env = ENV.matcher(childField);
        if (env.matches() && p.runtime != null) {
            int i = Integer.parseInt(env.group(1));
            var origins = new ArrayList<>(DeploymentDependent.envWithOrigins(p).values());
            return i < origins.size() ? Optional.of(origins.get(i).origin() + env.group(2)) : Optional.empty();
        }
        String container = "spec.template.spec.containers[0].";
        if (childField.startsWith(container + "resources")) {
            return Optional.of("spec.resources" + childField.substring((container + "resources").length()));
        }
        if (childField.startsWith(container + "image") && p.runtime != null) {
            return Optional.of(p.runtime.builtin() ? "the operator's runtime image setting"
                    : "ServingRuntime '" + p.runtime.name() + "' spec.image");
        }
        if (childField.startsWith(container + "args") && p.runtime != null && !p.runtime.builtin()) {
            return Optional.of("ServingRuntime '" + p.runtime.name() + "' spec.args");
        }
        if (childField.startsWith("spec.template.spec.containers[1]")
                || childField.startsWith("spec.template.spec.initContainers[0]")) {
            return Optional.of("spec.source.uri");
        }
        Matcher toleration = TOLERATION.matcher(childField);
        if (toleration.matches()) {
            int i = Integer.parseInt(toleration.group(1)) - (p.gpu ? 1 : 0);
            return i >= 0 ? Optional.of("spec.tolerations[" + i + "]" + toleration.group(2)) : Optional.empty();
        }
        for (String passed : List.of("nodeSelector", "affinity", "priorityClassName")) {
            String prefix = "spec.template.spec." + passed;
            if (childField.startsWith(prefix)) {
                return Optional.of("spec." + passed + childField.substring(prefix.length()));
            }
        }
        Matcher volume = VOLUME.matcher(childField);
        if (volume.matches() && p.runtime != null) {
            List<Volume> volumes = DeploymentDependent.build(p).getSpec().getTemplate().getSpec().getVolumes();
            int i = Integer.parseInt(volume.group(1));
            String name = i < volumes.size() ? volumes.get(i).getName() : "";
            return switch (name) {
                case "api-key" -> Optional.of("spec.serving.apiKeySecretRef");
                case "model" -> Optional.of("spec.source.uri");
                default -> Optional.empty();
            };
        }
        return Optional.empty();
    }
}
