package io.gemmaserving.operator.api;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/** With which image, options and defaults a GemmaModel is served. It has no status: it is configuration. */
@Group(GemmaModel.GROUP)
@Version(GemmaModel.VERSION)
@ShortNames("gsr")
@AdditionalPrinterColumn(name = "IMAGE", type = AdditionalPrinterColumn.Type.STRING, jsonPath = ".spec.image")
@AdditionalPrinterColumn(name = "AGE", type = AdditionalPrinterColumn.Type.DATE, jsonPath = ".metadata.creationTimestamp")
public class ServingRuntime extends CustomResource<ServingRuntimeSpec, Void> implements Namespaced {
}
