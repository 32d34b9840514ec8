using GruOperator.Domain.Conditions;
using GruOperator.Tests.RealCluster;
using GruOperator.Tests.Support;

namespace GruOperator.Tests.Integration;

/// <summary>The shared operator tests on a real kube-apiserver 1.28 with kube-controller-manager, one namespace per test.</summary>
[Collection(KubeApiServerCollection.Name)]
public sealed class GruModelControllerOnKubeApiServerTests(KubeApiServerFixture cluster) : GruModelControllerTests
{
    private protected override Task<OperatorHarness> StartHarnessAsync(bool autoReadyPods = true) => OperatorHarness.OnKubeApiServerAsync(cluster, autoReadyPods);

    /// <summary>
    /// Watch recovery on the real server: restarting kube-apiserver ends every watch, and its new watch cache starts at
    /// the current revision, so resuming from an older resourceVersion is refused and the operator must relist.
    /// </summary>
    [Fact]
    public async Task ChangesMadeAcrossAnApiServerRestartAreNotMissed()
    {
        await using var harness = await StartHarnessAsync();
        await harness.StartOperatorAsync();
        await harness.CreateAsync(Models.Cpu("w1", harness.Namespace));
        await harness.WaitForDeploymentAsync(harness.Namespace, "w1-stable", _ => true, "w1");

        await cluster.ControlPlane.RestartApiServerAsync();
        await harness.CreateAsync(Models.Cpu("w2", harness.Namespace));
        await harness.PatchSpecAsync(harness.Namespace, "w1", new { serving = new { replicas = 2 } });

        await harness.WaitForDeploymentAsync(harness.Namespace, "w2-stable", _ => true, "w2, created after the restart");
        await harness.WaitForDeploymentAsync(harness.Namespace, "w1-stable", d => d.Spec.Replicas == 2, "w1's change made after the restart");
        await harness.WaitForStatusAsync(harness.Namespace, "w1", m => m.Status!.ObservedGeneration == 2 && m.Status.Stable?.ReadyReplicas == 2, "w1 generation 2 ready");
    }
}
