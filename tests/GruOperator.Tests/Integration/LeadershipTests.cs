using System.Net;
using GruOperator.Tests.Support;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;

namespace GruOperator.Tests.Integration;

/// <summary>Losing the Lease, on both lanes (<see cref="LeadershipOnLocalClusterTests"/>, <see cref="LeadershipOnKubeApiServerTests"/>).</summary>
public abstract class LeadershipTests
{
    private protected abstract Task<OperatorHarness> StartHarnessAsync();

    [Fact]
    public async Task ALeaderThatLosesItsLeaseStopsTheProcessAndReportsIt()
    {
        await using var harness = await StartHarnessAsync();
        var leader = await harness.StartOperatorAsync("op-a", leaderElection: true);
        await Poll.UntilAsync(() => OperatorHarness.IsLeader(leader), OperatorHarness.Timeout, "op-a to lead");
        var lifetime = leader.Services.GetRequiredService<Microsoft.Extensions.Hosting.IHostApplicationLifetime>();

        // Another holder takes the Lease (as after a network partition): op-a can no longer renew.
        var lease = await TakeOverAsync(harness.Client, "gru-operator-leader", harness.Namespace, "intruder");
        Assert.Equal("intruder", lease.Spec.HolderIdentity);

        await Poll.UntilAsync(() => lifetime.ApplicationStopping.IsCancellationRequested, OperatorHarness.Timeout, "the process to stop");
        var state = leader.Services.GetRequiredService<global::ControllerRuntime.Leadership.LeadershipState>();
        Assert.True(state.Lost);
        Assert.False(state.IsLeader);
    }

    /// <summary>
    /// Read-modify-write of the Lease, retried on 409 only: the leader renews concurrently, so a replace from a copy
    /// read a moment earlier can lose the race, as it would against a real API server (client-go's RetryOnConflict).
    /// Any other error fails the test at once.
    /// </summary>
    private static async Task<V1Lease> TakeOverAsync(IKubernetes client, string name, string ns, string holder)
    {
        var deadline = DateTime.UtcNow + OperatorHarness.Timeout;
        while (true)
        {
            var lease = await client.CoordinationV1.ReadNamespacedLeaseAsync(name, ns);
            lease.Spec.HolderIdentity = holder;
            lease.Spec.LeaseDurationSeconds = 600;
            lease.Spec.RenewTime = DateTime.UtcNow;
            try
            {
                return await client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, name, ns);
            }
            catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.Conflict && DateTime.UtcNow < deadline)
            {
                // The leader renewed between our read and our replace: read the new version and try again.
            }
        }
    }
}

[Collection(IntegrationCollection.Name)]
public sealed class LeadershipOnLocalClusterTests : LeadershipTests
{
    private protected override Task<OperatorHarness> StartHarnessAsync() => OperatorHarness.StartAsync();
}

[Collection(GruOperator.Tests.RealCluster.KubeApiServerCollection.Name)]
public sealed class LeadershipOnKubeApiServerTests(GruOperator.Tests.RealCluster.KubeApiServerFixture cluster) : LeadershipTests
{
    private protected override Task<OperatorHarness> StartHarnessAsync() => OperatorHarness.OnKubeApiServerAsync(cluster);
}
