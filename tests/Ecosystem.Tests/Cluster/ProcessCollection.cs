namespace Ecosystem.Tests.Cluster;

/// <summary>
/// Tests that start a LocalCluster, the operator, GruServers or Prometheus run one at a time: on a 2-core CI machine
/// several of them at once only trade speed for timeouts. The lua5.1 and promtool tests still run beside them.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessCollection
{
    public const string Name = "real processes";
}
