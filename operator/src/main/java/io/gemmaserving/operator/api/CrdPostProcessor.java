package io.gemmaserving.operator.api;

import io.fabric8.crdv2.generator.CRDPostProcessor;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;

/**
 * What the CRDs get after fabric8's generator wrote them from the Java types: the printer columns in declared order
 * ({@link PrinterColumnOrder}) and the admission rules without an annotation ({@link SchemaRules}). Build time only:
 * quarkus-operator-sdk runs it ({@code quarkus.operator-sdk.crd.post-processor}) and so does the test that
 * regenerates crds/.
 */
public class CrdPostProcessor implements CRDPostProcessor {

    private final PrinterColumnOrder columns = new PrinterColumnOrder();

    @Override
    public HasMetadata process(HasMetadata crd, String crdSpecVersion) {
        HasMetadata out = columns.process(crd, crdSpecVersion);
        if (out instanceof CustomResourceDefinition v1 && v1.getSpec() != null
                && PrinterColumnOrder.RESOURCES.stream().anyMatch(c -> HasMetadata.getFullResourceName(c)
                .equals(v1.getMetadata().getName()))) {
            SchemaRules.apply(v1);
        }
        return out;
    }
}
