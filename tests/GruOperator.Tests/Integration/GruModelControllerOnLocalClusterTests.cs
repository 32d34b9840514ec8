using GruOperator.Domain.Conditions;
using GruOperator.Tests.RealCluster;
using GruOperator.Tests.Support;

namespace GruOperator.Tests.Integration;

/// <summary>The shared operator tests on LocalCluster (the fast lane), plus the fault-injection tests only it can run.</summary>
[Collection(IntegrationCollection.Name)]
public sealed class GruModelControllerOnLocalClusterTests : GruModelControllerTests
{
    private protected override Task<OperatorHarness> StartHarnessAsync(bool autoReadyPods = true) => OperatorHarness.StartAsync(autoReadyPods);

    // LocalCluster-only: dropping every watch and expiring the watch history on demand are LocalCluster.Faults; the real
    // lane covers watch recovery by restarting kube-apiserver (GruModelControllerOnKubeApiServerTests).
    [Fact]
    public async Task DroppedAndExpiredWatchesRecoverWithoutMissingChanges()
    {
        await using var harness = await StartHarnessAsync();
        await harness.StartOperatorAsync();
        await harness.CreateAsync(Models.Cpu("w1", harness.Namespace));
        await harness.WaitForDeploymentAsync(harness.Namespace, "w1-stable", _ => true, "w1");

        harness.Cluster.Faults.DropAllWatches();
        await harness.CreateAsync(Models.Cpu("w2", harness.Namespace));
        await harness.WaitForDeploymentAsync(harness.Namespace, "w2-stable", _ => true, "w2 after dropped watches");

        // Expire the history and cut the watches: the operator's resourceVersion is now too old (410) and it must relist.
        harness.Cluster.Faults.ExpireHistory();
        harness.Cluster.Faults.DropAllWatches();
        await harness.CreateAsync(Models.Cpu("w3", harness.Namespace));
        await harness.PatchSpecAsync(harness.Namespace, "w1", new { serving = new { replicas = 2 } });
        await harness.WaitForDeploymentAsync(harness.Namespace, "w3-stable", _ => true, "w3 after expired history");
        await harness.WaitForDeploymentAsync(harness.Namespace, "w1-stable", d => d.Spec.Replicas == 2, "w1's change made while the watch was expired");
    }

    // LocalCluster-only: answering the operator's next requests with injected 500/429/409s is a LocalCluster.Faults feature.
    [Fact]
    public async Task ApiErrorsAreRetriedWithBackoffUntilTheModelConverges()
    {
        await using var harness = await StartHarnessAsync();
        await harness.StartOperatorAsync();
        await harness.CreateAsync(Models.Cpu("warmup", harness.Namespace));
        await harness.WaitForStatusAsync(harness.Namespace, "warmup", m => m.Status!.Phase == ModelPhase.Healthy, "warm-up model");

        foreach (var code in new[] { 500, 429, 409 })
        {
            var name = $"flaky-{code}";
            await harness.CreateAsync(Models.Cpu(name, harness.Namespace));
            // The operator's next requests (finalizer patch, apply, status) fail with this code.
            harness.Cluster.Faults.FailNext(3, code);
            var model = await harness.WaitForStatusAsync(harness.Namespace, name, m => m.Status!.Phase == ModelPhase.Healthy, $"{name} healthy despite {code}s");
            Assert.Equal(1, model.Status!.ObservedGeneration);
            Assert.Equal(0, harness.Cluster.Faults.PendingFailures);
        }
    }
}
