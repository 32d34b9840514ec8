using System.Net;
using k8s;
using k8s.Models;
using Kube.Local.Tests.Support;

namespace Kube.Local.Tests.Storage;

/// <summary>ownerReference garbage collection with background, foreground and orphan propagation.</summary>
public sealed class GarbageCollectionTests : IClassFixture<ClusterFixture>
{
    private readonly ClusterFixture _f;

    public GarbageCollectionTests(ClusterFixture f) => _f = f;

    private async Task<(string Ns, V1ConfigMap Owner)> OwnerWithDependentsAsync(params string[] dependents)
    {
        var ns = await _f.NamespaceAsync("gc");
        var owner = await _f.Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "owner" } }, ns);
        foreach (var d in dependents)
        {
            await _f.Client.CoreV1.CreateNamespacedSecretAsync(new V1Secret
            {
                Metadata = new V1ObjectMeta
                {
                    Name = d,
                    OwnerReferences = [new V1OwnerReference { ApiVersion = "v1", Kind = "ConfigMap", Name = "owner", Uid = owner.Metadata.Uid, BlockOwnerDeletion = true, Controller = true }],
                },
            }, ns);
        }
        return (ns, owner);
    }

    private async Task<List<string>> SecretsAsync(string ns) =>
        (await _f.Client.CoreV1.ListNamespacedSecretAsync(ns)).Items.Select(s => s.Metadata.Name).Order().ToList();

    [Fact]
    public async Task Background_deletion_removes_the_owner_at_once_and_dependents_afterwards()
    {
        var (ns, _) = await OwnerWithDependentsAsync("d1", "d2");
        await _f.Client.CoreV1.DeleteNamespacedConfigMapAsync("owner", ns, propagationPolicy: "Background");
        await Errors.StatusAsync(() => _f.Client.CoreV1.ReadNamespacedConfigMapAsync("owner", ns), HttpStatusCode.NotFound, "NotFound");
        await Eventually.GetAsync(() => SecretsAsync(ns), s => s.Count == 0, "dependents to be collected");
    }

    [Fact]
    public async Task Foreground_deletion_keeps_the_owner_until_its_dependents_are_gone()
    {
        var (ns, _) = await OwnerWithDependentsAsync("d1");
        // A finalizer on the dependent holds the foreground deletion open so the intermediate state is observable.
        await _f.Client.CoreV1.PatchNamespacedSecretAsync(new V1Patch("""{"metadata":{"finalizers":["example.com/hold"]}}""", V1Patch.PatchType.MergePatch), "d1", ns);
        await _f.Client.CoreV1.DeleteNamespacedConfigMapAsync("owner", ns, propagationPolicy: "Foreground");
        var owner = await _f.Client.CoreV1.ReadNamespacedConfigMapAsync("owner", ns);
        Assert.NotNull(owner.Metadata.DeletionTimestamp);
        Assert.Contains("foregroundDeletion", owner.Metadata.Finalizers);
        await Eventually.GetAsync(async () => (await _f.Client.CoreV1.ReadNamespacedSecretAsync("d1", ns)).Metadata.DeletionTimestamp, t => t is not null, "the dependent to be deleting");

        await _f.Client.CoreV1.PatchNamespacedSecretAsync(new V1Patch("""{"metadata":{"finalizers":null}}""", V1Patch.PatchType.MergePatch), "d1", ns);
        await Eventually.GetAsync(async () => (await _f.Client.CoreV1.ListNamespacedConfigMapAsync(ns)).Items.Count, n => n == 0, "the owner to go after its dependents");
        Assert.Empty(await SecretsAsync(ns));
    }

    [Fact]
    public async Task Orphan_deletion_removes_the_owner_and_strips_the_ownerReference_from_dependents()
    {
        var (ns, _) = await OwnerWithDependentsAsync("d1");
        await _f.Client.CoreV1.DeleteNamespacedConfigMapAsync("owner", ns, propagationPolicy: "Orphan");
        await Eventually.GetAsync(async () => (await _f.Client.CoreV1.ListNamespacedConfigMapAsync(ns)).Items.Count, n => n == 0, "the owner to be removed");
        var dependent = await _f.Client.CoreV1.ReadNamespacedSecretAsync("d1", ns);
        Assert.Null(dependent.Metadata.OwnerReferences);
    }

    [Fact]
    public async Task A_dependent_with_another_live_owner_survives_and_loses_only_the_dead_reference()
    {
        var (ns, owner) = await OwnerWithDependentsAsync();
        var other = await _f.Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "other" } }, ns);
        await _f.Client.CoreV1.CreateNamespacedSecretAsync(new V1Secret
        {
            Metadata = new V1ObjectMeta
            {
                Name = "shared",
                OwnerReferences =
                [
                    new V1OwnerReference { ApiVersion = "v1", Kind = "ConfigMap", Name = "owner", Uid = owner.Metadata.Uid },
                    new V1OwnerReference { ApiVersion = "v1", Kind = "ConfigMap", Name = "other", Uid = other.Metadata.Uid },
                ],
            },
        }, ns);
        await _f.Client.CoreV1.DeleteNamespacedConfigMapAsync("owner", ns);
        var refs = await Eventually.GetAsync(async () => (await _f.Client.CoreV1.ReadNamespacedSecretAsync("shared", ns)).Metadata.OwnerReferences,
            r => r?.Count == 1, "the dead owner reference to be removed");
        Assert.Equal("other", refs![0].Name);
    }
}
