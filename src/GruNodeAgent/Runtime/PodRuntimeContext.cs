using k8s;
using Microsoft.Extensions.Logging;

namespace GruNodeAgent.Runtime;

/// <summary>What every pod worker shares: the API client, the agent's settings, images, addresses, prober and clock.</summary>
internal sealed record PodRuntimeContext(
    IKubernetes Client,
    NodeAgentOptions Options,
    string StateDirectory,
    ImageCommands Images,
    LoopbackAddresses Addresses,
    ContainerProbe Probe,
    TimeProvider Time,
    ILogger Logger);
