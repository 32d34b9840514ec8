using GruServer.Inference;

namespace GruServer.Backends;

/// <summary>A loaded model that can run inference; one instance is shared by all requests (Run is thread-safe).</summary>
internal interface IModelBackend : IDisposable
{
    ModelSignature Signature { get; }

    /// <summary>"CUDA" or "CPU": what really runs the model.</summary>
    string ExecutionProvider { get; }

    /// <param name="pooledOutputs">Copy the outputs into buffers rented from <see cref="Batching.PooledTensors"/> (they may
    /// be longer than the shape, and the caller returns them) rather than into new arrays: the batcher's merged outputs,
    /// which it cuts into each request's rows at once, need not cost a large allocation per batch.</param>
    IReadOnlyList<NamedTensor> Run(IReadOnlyList<NamedTensor> inputs, IReadOnlyList<string> outputNames, CancellationToken cancellationToken, bool pooledOutputs = false);
}
