package io.gemmaserving.operator.api;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.crdv2.generator.CRDPostProcessor;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceColumnDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Puts the printer columns in the order the resource class declares its {@link AdditionalPrinterColumn}s:
 * fabric8's CRD generator (v2) sorts them by JSON path, which put AGE ({@code .metadata...}) first, and kubectl shows
 * them in CRD order. Part of {@link CrdPostProcessor}.
 */
public class PrinterColumnOrder implements CRDPostProcessor {

    static final List<Class<? extends HasMetadata>> RESOURCES = List.of(GemmaModel.class, ServingRuntime.class);

    @Override
    public HasMetadata process(HasMetadata crd, String crdSpecVersion) {
        if (crd instanceof CustomResourceDefinition v1 && v1.getSpec() != null) {
            RESOURCES.stream().filter(c -> HasMetadata.getFullResourceName(c).equals(v1.getMetadata().getName()))
                    .findFirst().ifPresent(c -> v1.getSpec().getVersions().forEach(v -> reorder(v, declared(c))));
        }
        return crd;
    }

    /** Column names in declaration order (getAnnotationsByType keeps the source order of repeated annotations). */
    static List<String> declared(Class<?> resource) {
        return Arrays.stream(resource.getAnnotationsByType(AdditionalPrinterColumn.class))
                .map(AdditionalPrinterColumn::name).toList();
    }

    /** Declared columns first, in their order; any other (a field's @PrinterColumn) after them, as generated. */
    static void reorder(CustomResourceDefinitionVersion version, List<String> declared) {
        if (version.getAdditionalPrinterColumns() == null) {
            return;
        }
        List<CustomResourceColumnDefinition> columns = new ArrayList<>(version.getAdditionalPrinterColumns());
        columns.sort(Comparator.comparingInt(col -> {
            int i = declared.indexOf(col.getName());
            return i < 0 ? declared.size() : i;
        }));
        version.setAdditionalPrinterColumns(columns);
    }
}
