package io.gemmaserving.operator.plan;

import io.gemmaserving.operator.api.AcceleratorType;
import io.gemmaserving.operator.api.ModelFormat;
import io.gemmaserving.operator.api.ServingRuntime;
import io.gemmaserving.operator.api.ServingRuntimeSpec;
import io.gemmaserving.operator.api.ServingRuntimeSpec.SupportedFormat;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Picks the runtime: the ServingRuntime the model names; else the namespace's best match for the model's format
 * and accelerator (autoSelect not false, highest priority, then name); else the operator's built-in image.
 */
public final class RuntimeResolver {

    /** The result, or why there is none (a named runtime that is missing or cannot serve the model). */
    public record Resolution(ResolvedRuntime runtime, String reason, String message) {
        public boolean resolved() {
            return runtime != null;
        }
    }

    /** Reason of a named runtime that does not exist: the model's children are then kept as they are. */
    public static final String NOT_FOUND = "RuntimeNotFound";

    private RuntimeResolver() {
    }

    public static Resolution resolve(String requested, ModelFormat format, AcceleratorType accelerator,
                                     List<ServingRuntime> inNamespace, OperatorSettings settings) {
        if (requested != null) {
            Optional<ServingRuntime> named = inNamespace.stream()
                    .filter(r -> requested.equals(r.getMetadata().getName())).findFirst();
            if (named.isEmpty()) {
                return new Resolution(null, NOT_FOUND, "ServingRuntime '" + requested + "' does not exist in this"
                        + " namespace: create it, or remove spec.runtime to let the operator choose one");
            }
            ServingRuntime r = named.get();
            if (!supportsFormat(r.getSpec(), format, false)) {
                return new Resolution(null, "RuntimeUnsupportedFormat", "ServingRuntime '" + requested
                        + "' does not list model format " + format + " in supportedModelFormats");
            }
            if (!supportsAccelerator(r.getSpec(), accelerator)) {
                return new Resolution(null, "RuntimeUnsupportedAccelerator", "ServingRuntime '" + requested
                        + "' does not list accelerator " + accelerator.value + " in acceleratorTypes");
            }
            return new Resolution(of(r, settings), "RuntimeFound", "using ServingRuntime '" + requested + "'");
        }
        Optional<ServingRuntime> best = inNamespace.stream()
                .filter(r -> r.getSpec() != null && r.getMetadata().getDeletionTimestamp() == null)
                .filter(r -> supportsFormat(r.getSpec(), format, true) && supportsAccelerator(r.getSpec(), accelerator))
                .min(Comparator.comparingInt((ServingRuntime r) -> -priority(r.getSpec(), format))
                        .thenComparing(r -> r.getMetadata().getName()));
        if (best.isPresent()) {
            return new Resolution(of(best.get(), settings), "RuntimeSelected", "selected ServingRuntime '"
                    + best.get().getMetadata().getName() + "' for " + format + " on " + accelerator.value);
        }
        boolean gpu = accelerator == AcceleratorType.NVIDIA_GPU;
        ResolvedRuntime builtin = new ResolvedRuntime(gpu ? "builtin-cuda" : "builtin-cpu", true,
                gpu ? settings.cudaImage() : settings.cpuImage(), List.of(), List.of(), null,
                ResolvedRuntime.DEFAULT_PORT, ResolvedRuntime.DEFAULT_WAITING_METRIC, settings.runAsUser());
        return new Resolution(builtin, "BuiltinRuntime", "no ServingRuntime in this namespace serves " + format + " on "
                + accelerator.value + "; using the operator's default image " + builtin.image());
    }

    static ResolvedRuntime of(ServingRuntime r, OperatorSettings settings) {
        ServingRuntimeSpec s = r.getSpec();
        return new ResolvedRuntime(r.getMetadata().getName(), false, s.image,
                s.args == null ? List.of() : List.copyOf(s.args), s.env == null ? List.of() : List.copyOf(s.env),
                s.resources, s.port == null ? ResolvedRuntime.DEFAULT_PORT : s.port,
                s.waitingRequestsMetric == null ? ResolvedRuntime.DEFAULT_WAITING_METRIC : s.waitingRequestsMetric,
                s.runAsUser != null ? s.runAsUser : settings.runAsUser());
    }

    /** No list means every format; when choosing automatically, entries with autoSelect false do not count. */
    static boolean supportsFormat(ServingRuntimeSpec s, ModelFormat format, boolean autoSelect) {
        if (s.supportedModelFormats == null || s.supportedModelFormats.isEmpty()) {
            return true;
        }
        return s.supportedModelFormats.stream().anyMatch(f -> f.name == format
                && (!autoSelect || !Boolean.FALSE.equals(f.autoSelect)));
    }

    /** No list means CPU only. */
    static boolean supportsAccelerator(ServingRuntimeSpec s, AcceleratorType accelerator) {
        List<AcceleratorType> types = s.acceleratorTypes == null || s.acceleratorTypes.isEmpty()
                ? List.of(AcceleratorType.CPU) : s.acceleratorTypes;
        return types.contains(accelerator);
    }

    static int priority(ServingRuntimeSpec s, ModelFormat format) {
        if (s.supportedModelFormats == null) {
            return 0;
        }
        return s.supportedModelFormats.stream().filter(f -> f.name == format)
                .map(f -> f.priority).filter(Objects::nonNull).max(Integer::compare).orElse(0);
    }
}
