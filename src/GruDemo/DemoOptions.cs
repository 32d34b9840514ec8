namespace GruDemo;

/// <summary>What the demo runs against and how fast it moves (environment: DEMO_CLUSTER, DEMO_DIR; flags: see Program).</summary>
public sealed record DemoOptions
{
    /// <summary>True: the cluster of KUBECONFIG (DEMO_CLUSTER=current); false: a LocalCluster started here.</summary>
    public bool UseCurrentCluster { get; init; }

    /// <summary>Where the kubeconfig, logs, models and pod directories go; removed at the end unless kept.</summary>
    public string WorkDirectory { get; init; } = "";

    /// <summary>Keep <see cref="WorkDirectory"/> (logs) after the demo ends.</summary>
    public bool KeepWorkDirectory { get; init; }

    /// <summary>The namespace the demo's GruModel lives in.</summary>
    public string Namespace { get; init; } = "gru-demo";

    /// <summary>Simulated nvidia.com/gpu on the agent's node (stable's 2 pods, the canary's, one surge pod while promoting).</summary>
    public int Gpus { get; init; } = 6;

    /// <summary>First 127.0.0.N of the agent's pods.</summary>
    public int FirstPodAddress { get; init; } = 40;

    /// <summary>Port of LocalCluster's API server (0: a free one).</summary>
    public int ClusterPort { get; init; }

    /// <summary>Concurrent requests of the load generator.</summary>
    public int LoadWorkers { get; init; } = 6;
}
