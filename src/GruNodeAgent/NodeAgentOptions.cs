using System.ComponentModel.DataAnnotations;

namespace GruNodeAgent;

/// <summary>How the node agent presents its node and runs pods (configuration section <c>NodeAgent</c>).</summary>
public sealed class NodeAgentOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string Section = "NodeAgent";

    /// <summary>The Node's name; pods are bound to it.</summary>
    [Required]
    public string NodeName { get; set; } = "gru-local-node";

    /// <summary>CPU capacity as a Kubernetes quantity; empty: the machine's processor count.</summary>
    public string Cpu { get; set; } = "";

    /// <summary>Memory capacity as a Kubernetes quantity; empty: the machine's total memory.</summary>
    public string Memory { get; set; } = "";

    /// <summary>How many GPUs the node advertises (simulated: pods run on CPU), for GPU-shaped scheduling.</summary>
    [Range(0, 1024)]
    public int GpuCount { get; set; }

    /// <summary>The extended resource name of the simulated GPUs.</summary>
    public string GpuResourceName { get; set; } = "nvidia.com/gpu";

    /// <summary>How many pods fit at most (one loopback address each).</summary>
    [Range(1, 250)]
    public int MaxPods { get; set; } = 110;

    /// <summary>Extra node labels (e.g. nvidia.com/gpu.product) besides the standard ones.</summary>
    public Dictionary<string, string> Labels { get; set; } = [];

    /// <summary>Node taints, as "key=value:Effect" or "key:Effect".</summary>
    public List<string> Taints { get; set; } = [];

    /// <summary>Where pod directories (volumes) and container logs go; empty: a temp directory.</summary>
    public string StateDirectory { get; set; } = "";

    /// <summary>Pods get 127.0.0.N addresses from N = this number upwards (127.0.0.1 is the node's own).</summary>
    [Range(2, 254)]
    public int FirstPodAddress { get; set; } = 2;

    /// <summary>Where the Prometheus http_sd endpoint listens, e.g. http://127.0.0.1:9099 (port 0: a free port).</summary>
    public string DiscoveryUrl { get; set; } = "http://127.0.0.1:0";

    /// <summary>How often the node Lease is renewed and the Ready condition's heartbeat written.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The Lease's duration (the kubelet's default is 40s).</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(40);

    /// <summary>How long an unschedulable pod waits before it is tried again (a node-side change retries it sooner).</summary>
    public TimeSpan UnschedulableRetry { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>First CrashLoopBackOff delay (doubles per restart up to <see cref="MaxRestartBackoff"/>); the kubelet's is 10s.</summary>
    public TimeSpan RestartBackoff { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest CrashLoopBackOff delay (the kubelet's is 5 minutes).</summary>
    public TimeSpan MaxRestartBackoff { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Which local command runs each image (the agent cannot pull images).</summary>
    public List<ImageMapping> Images { get; set; } = [];
}

/// <summary>
/// What runs locally for an image: the image's entrypoint as a host command, or a command that stands in for whatever
/// the container's own command does there. Matched by repository (any tag) or by the full reference.
/// </summary>
public sealed class ImageMapping
{
    /// <summary>The image, e.g. "ghcr.io/gru-operator/gru-server" (any tag or digest) or "busybox:1.36" (that tag only).</summary>
    [Required]
    public string Image { get; set; } = "";

    /// <summary>The image's ENTRYPOINT on this host, e.g. ["dotnet", "/src/GruServer/bin/Release/net10.0/GruServer.dll"]: the container's args follow it.</summary>
    public List<string> Entrypoint { get; set; } = [];

    /// <summary>
    /// When set, replaces the container's command and args (which name programs inside the image), e.g. a shell script
    /// that copies a model becomes ["cp", "$(MODEL_SOURCE)", "$(MODEL_PATH)"]. $(VAR) expands from the container's env.
    /// </summary>
    public List<string>? Command { get; set; }

    /// <summary>Whether a container's own command runs on the host as written (images whose tools the host has, e.g. a shell).</summary>
    public bool HostCommands { get; set; }
}
