using GruServer.Inference;

namespace GruServer.Backends;

/// <summary>A loaded model that can run inference; one instance is shared by all requests (Run is thread-safe).</summary>
internal interface IModelBackend : IDisposable
{
    ModelSignature Signature { get; }

    /// <summary>"CUDA" or "CPU": what really runs the model.</summary>
    string ExecutionProvider { get; }

    IReadOnlyList<NamedTensor> Run(IReadOnlyList<NamedTensor> inputs, IReadOnlyList<string> outputNames, CancellationToken cancellationToken);
}
