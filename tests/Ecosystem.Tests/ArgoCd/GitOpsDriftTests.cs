using System.Text.Json;
using Ecosystem.Tests.Cluster;
using TestSupport;

namespace Ecosystem.Tests.ArgoCd;

/// <summary>
/// The claim behind "no ignoreDifferences needed" in docs/operations.md: the operator never writes spec, so an Argo CD sync
/// (a server-side apply under Argo CD's field manager) of a reconciled GruModel finds nothing to change.
/// </summary>
[Collection(ProcessCollection.Name)]
public sealed class GitOpsDriftTests
{
    private const string ArgoManager = "argocd-controller";   // the field manager Argo CD's server-side sync uses

    [Fact]
    public async Task Server_side_reapply_of_a_reconciled_GruModel_changes_nothing_and_only_argo_cd_owns_spec()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var ct = deadline.Token;
        await using var cluster = await LocalClusterWithKubectl.StartAsync(ct);
        var crd = Path.Combine(Repository.Root, "config", "crds", "serving.gru.dev_grumodels.yaml");
        var sample = Path.Combine(Repository.Root, "config", "samples", "cpu-minimal.yaml");
        string[] apply = ["apply", "--server-side", $"--field-manager={ArgoManager}", "-f"];
        await cluster.KubectlOkAsync([.. apply, crd], ct);
        await cluster.KubectlOkAsync(["wait", "--for=condition=Established", "crd/grumodels.serving.gru.dev", "--timeout=60s"], ct);
        await cluster.KubectlOkAsync([.. apply, sample], ct);

        await using var op = await cluster.StartOperatorAsync(ct);
        var reconciled = await WaitAsync(cluster, m => Phase(m) == "Healthy" && ObservedGeneration(m) == Generation(m), op, ct);

        var diff = await cluster.KubectlAsync(["diff", "--server-side", $"--field-manager={ArgoManager}", "-f", sample], ct);
        Assert.True(diff.ExitCode == 0, $"kubectl diff --server-side found drift on a reconciled GruModel: {diff.Output}");
        await cluster.KubectlOkAsync([.. apply, sample], ct);
        var after = await GetAsync(cluster, ct);

        Assert.Equal(Generation(reconciled), Generation(after));
        Assert.Equal(reconciled.GetProperty("spec").GetRawText(), after.GetProperty("spec").GetRawText());
        var managers = after.GetProperty("metadata").GetProperty("managedFields").EnumerateArray().ToList();
        var specOwners = managers
            .Where(m => m.TryGetProperty("fieldsV1", out var f) && f.TryGetProperty("f:spec", out _))
            .Select(m => m.GetProperty("manager").GetString()).Distinct().ToList();
        Assert.Equal([ArgoManager], specOwners);
        // The operator did write: status, through the status subresource, under its own manager.
        Assert.Contains(managers, m => m.GetProperty("manager").GetString() != ArgoManager
            && m.TryGetProperty("subresource", out var s) && s.GetString() == "status");
    }

    private static async Task<JsonElement> WaitAsync(LocalClusterWithKubectl cluster, Func<JsonElement, bool> done, OperatorProcess op, CancellationToken ct)
    {
        var last = default(JsonElement);
        while (!ct.IsCancellationRequested)
        {
            last = await GetAsync(cluster, ct);
            if (done(last)) return last;
            try
            {
                await Task.Delay(250, ct);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        throw new TimeoutException($"GruModel never became Healthy at its generation; last: {last}\noperator:\n{op.Output}");
    }

    private static async Task<JsonElement> GetAsync(LocalClusterWithKubectl cluster, CancellationToken ct)
    {
        using var doc = JsonDocument.Parse(await cluster.KubectlOkAsync(["get", "grumodel", "sample-gru", "-n", "default", "-o", "json", "--show-managed-fields"], ct));
        return doc.RootElement.Clone();
    }

    private static string? Phase(JsonElement m) =>
        m.TryGetProperty("status", out var s) && s.TryGetProperty("phase", out var p) ? p.GetString() : null;

    private static long? ObservedGeneration(JsonElement m) =>
        m.TryGetProperty("status", out var s) && s.TryGetProperty("observedGeneration", out var g) ? g.GetInt64() : null;

    private static long Generation(JsonElement m) => m.GetProperty("metadata").GetProperty("generation").GetInt64();
}
