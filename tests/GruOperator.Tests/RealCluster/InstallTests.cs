using GruOperator.Api;
using k8s;

namespace GruOperator.Tests.RealCluster;

/// <summary>Installing the product on a real kube-apiserver, as a user does.</summary>
[Collection(KubeApiServerCollection.Name)]
public sealed class InstallTests(KubeApiServerFixture cluster)
{
    [Fact]
    public async Task EverySampleInstallsOnTheServer()
    {
        foreach (var sample in Directory.GetFiles(Support.RepositoryRoot.Combine("config", "samples"), "*.yaml").Order())
        {
            // A real apply (not a dry run, which cannot create the namespace a sample brings): schema, CEL, admission.
            var applied = await cluster.Kubectl.RunAsync(["apply", "-f", sample]);
            Assert.True(applied.ExitCode == 0, $"{Path.GetFileName(sample)}:\n{applied}");
            Assert.Contains($"grumodel.{GruModel.Group}/", applied.Stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ConfigDefaultInstallsAndASecondApplyChangesNothing()
    {
        Assert.Contains($"customresourcedefinition.apiextensions.k8s.io/{GruModel.Plural}.{GruModel.Group} created", cluster.Install.Stdout, StringComparison.Ordinal);
        var crd = await cluster.Client.ApiextensionsV1.ReadCustomResourceDefinitionAsync($"{GruModel.Plural}.{GruModel.Group}");
        Assert.Contains(crd.Status.Conditions, c => c.Type == "Established" && c.Status == "True");
        Assert.Equal("gru-operator", (await cluster.Client.CoreV1.ReadNamespacedServiceAccountAsync("gru-operator", "gru-system")).Metadata.Name);

        // The manager's pods pass PodSecurity "restricted" (gru-system enforces it) and its ServiceAccount admission.
        var pods = await Support.Poll.UntilAsync(
            async () => await cluster.Client.CoreV1.ListNamespacedPodAsync("gru-system", labelSelector: "app.kubernetes.io/name=gru-operator"),
            p => p.Items.Count == 2, TimeSpan.FromSeconds(60), "the operator's two pods to be admitted");
        Assert.All(pods.Items, p => Assert.Equal("gru-operator", p.Spec.ServiceAccountName));

        var diff = await cluster.Kubectl.RunAsync(["diff", "-k", Support.RepositoryRoot.Combine("config", "default")]);
        Assert.True(diff.ExitCode == 0, $"kubectl diff should find nothing to change after the install:\n{diff}");

        var again = await cluster.Kubectl.RunAsync(["apply", "-k", Support.RepositoryRoot.Combine("config", "default")]);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.DoesNotContain(" configured", again.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(" created", again.Stdout, StringComparison.Ordinal);
    }
}
