package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.cuda.bindings.Blas;
import io.gemmaserving.runtime.engine.cuda.bindings.Cublas;
import io.gemmaserving.runtime.engine.cuda.bindings.CudaDriver;
import io.gemmaserving.runtime.engine.cuda.bindings.CudaException;
import io.gemmaserving.runtime.engine.cuda.bindings.CudaGraphApi;
import io.gemmaserving.runtime.engine.cuda.bindings.CudaLibraries;
import io.gemmaserving.runtime.engine.cuda.bindings.Driver;
import io.gemmaserving.runtime.engine.cuda.bindings.Graphs;
import io.gemmaserving.runtime.engine.cuda.bindings.Nccl;
import io.gemmaserving.runtime.engine.cuda.bindings.Nvrtc;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.function.Supplier;

/**
 * What the CUDA engine talks to: the driver, cuBLAS (null: absent, prefill on the matvec kernels), graphs (null:
 * absent), where the kernels' PTX comes from, and how to get NCCL (throws {@link CudaException} when absent). The
 * real set is {@link #load}; the engine tests pass a host emulation.
 */
public record CudaApis(Driver driver, Blas blas, Graphs graphs, PtxSource ptx, Supplier<Nccl> nccl) {

    private static final System.Logger LOG = System.getLogger(CudaApis.class.getName());

    /** The real libraries; {@code ptxDir} null: kernels compiled by NVRTC. */
    public static CudaApis load(Path ptxDir) {
        CudaDriver cu = CudaDriver.load();
        cu.init();
        PtxSource ptx = ptxDir != null ? PtxSource.directory(ptxDir) : PtxSource.nvrtc(Nvrtc.load());
        Blas blas;
        try {
            blas = Cublas.load();
        } catch (CudaException | UnsatisfiedLinkError e) {
            LOG.log(Level.WARNING, "cuBLAS not found (" + e.getMessage() + "): prefill runs on the matvec kernels");
            blas = null;
        }
        Graphs graphs;
        try {
            graphs = new CudaGraphApi(CudaLibraries.driver(), cu);
        } catch (CudaException e) {
            LOG.log(Level.WARNING, "CUDA graphs unavailable (" + e.getMessage() + "): decode launches each kernel");
            graphs = null;
        }
        return new CudaApis(cu, blas, graphs, ptx, Nccl::load);
    }
}
