using GruOperator.Tests.Support;
using k8s;
using Microsoft.Extensions.DependencyInjection;

namespace GruOperator.Tests.Integration;

[Collection(IntegrationCollection.Name)]
public sealed class LeadershipTests
{
    [Fact]
    public async Task ALeaderThatLosesItsLeaseStopsTheProcessAndReportsIt()
    {
        await using var harness = await OperatorHarness.StartAsync();
        var leader = await harness.StartOperatorAsync("op-a", leaderElection: true);
        await Poll.UntilAsync(() => OperatorHarness.IsLeader(leader), OperatorHarness.Timeout, "op-a to lead");
        var lifetime = leader.Services.GetRequiredService<Microsoft.Extensions.Hosting.IHostApplicationLifetime>();

        // Another holder takes the Lease (as after a network partition): op-a can no longer renew.
        // The leader renews concurrently, so retry the read-modify-write on 409 as any client would.
        await Poll.UntilAsync(async () =>
        {
            var lease = await harness.Client.CoordinationV1.ReadNamespacedLeaseAsync("gru-operator-leader", "default");
            lease.Spec.HolderIdentity = "intruder";
            lease.Spec.LeaseDurationSeconds = 600;
            lease.Spec.RenewTime = DateTime.UtcNow;
            return await harness.Client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, "gru-operator-leader", "default");
        }, l => l.Spec.HolderIdentity == "intruder", OperatorHarness.Timeout, "the lease to change hands");

        await Poll.UntilAsync(() => lifetime.ApplicationStopping.IsCancellationRequested, OperatorHarness.Timeout, "the process to stop");
        var state = leader.Services.GetRequiredService<global::ControllerRuntime.Leadership.LeadershipState>();
        Assert.True(state.Lost);
        Assert.False(state.IsLeader);
    }
}
