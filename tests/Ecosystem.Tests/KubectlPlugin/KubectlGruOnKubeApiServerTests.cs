using System.Text.Json;
using TestSupport;
using Ecosystem.Tests.Cluster;

namespace Ecosystem.Tests.KubectlPlugin;

/// <summary>`kubectl gru` against a real kube-apiserver: the same reads and writes as on LocalCluster, and real RBAC denials.</summary>
[Collection(ProcessCollection.Name)]
public sealed class KubectlGruOnKubeApiServerTests(KubeApiServerWithKubectl fixture) : IClassFixture<KubeApiServerWithKubectl>
{
    private static CancellationToken Deadline => new CancellationTokenSource(TimeSpan.FromMinutes(1)).Token;

    [Fact]
    public async Task List_and_status_and_history_read_the_status_as_the_operator_writes_it()
    {
        var list = await fixture.GruAsync("list", "-A");
        var status = await fixture.GruAsync("status", "session-recs", "-n", "ml");
        var history = await fixture.GruAsync("history", "session-recs", "-n", "ml");

        Assert.True(list.ExitCode == 0, list.Output);
        var line = Assert.Single(list.Stdout.Split('\n'), l => l.Contains("session-recs", StringComparison.Ordinal));
        Assert.Equal(["ml", "session-recs", "Progressing", "4c1a2f9e8d7b", "10%", "1", "Passed", "3/3"], line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[..8]);
        Assert.Contains(list.Stdout.Split('\n'), l => l.Contains("default", StringComparison.Ordinal) && l.Contains("sample-gru", StringComparison.Ordinal));
        Assert.True(status.ExitCode == 0, status.Output);
        Assert.Contains("canary: revision 4, model 9f8e7d6c5b4a, step 1, weight 10%", status.Stdout, StringComparison.Ordinal);
        var metric = Assert.Single(status.Stdout.Split('\n'), l => l.TrimStart().StartsWith("latencyP95", StringComparison.Ordinal));
        Assert.Equal(["latencyP95", "0.081", "0.2", "0.079", "0.4124", "Passed"], metric.Split(' ', StringSplitOptions.RemoveEmptyEntries)[..6]);
        Assert.True(history.ExitCode == 0, history.Output);
        Assert.Equal(["2", "7a6b5c4d3e2f", "RolledBack", "AnalysisFailed"],
            Assert.Single(history.Stdout.Split('\n'), l => l.Contains("RolledBack", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[..4]);
    }

    [Theory]
    [InlineData("promote")]
    [InlineData("abort")]
    public async Task Actions_write_only_the_action_annotation(string action)
    {
        var before = await GetAsync("sample-gru", "default");

        var run = await fixture.GruAsync(action, "sample-gru");

        Assert.True(run.ExitCode == 0, run.Output);
        var after = await GetAsync("sample-gru", "default");
        Assert.Equal(action, after.GetProperty("metadata").GetProperty("annotations").GetProperty("serving.gru.dev/action").GetString());
        Assert.Equal(before.GetProperty("metadata").GetProperty("generation").GetInt64(), after.GetProperty("metadata").GetProperty("generation").GetInt64());
        Assert.Equal(before.GetProperty("spec").GetRawText(), after.GetProperty("spec").GetRawText());
        var mine = Assert.Single(after.GetProperty("metadata").GetProperty("managedFields").EnumerateArray(), m => m.GetProperty("manager").GetString() == "kubectl-gru");
        Assert.Equal(["f:annotations"], mine.GetProperty("fieldsV1").GetProperty("f:metadata").EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public async Task An_unknown_name_is_a_clear_error()
    {
        var run = await fixture.GruAsync("status", "sesion-recs", "-n", "ml");

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith("error: GruModel \"sesion-recs\" not found in namespace \"ml\"", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_real_authorizer_denial_says_who_may_not_do_what_where()
    {
        var read = await fixture.GruAsync("--kubeconfig", fixture.ViewerKubeconfig, "status", "session-recs", "-n", "ml");
        var promote = await fixture.GruAsync("--kubeconfig", fixture.ViewerKubeconfig, "promote", "session-recs", "-n", "ml");
        var elsewhere = await fixture.GruAsync("--kubeconfig", fixture.ViewerKubeconfig, "list", "-n", "default");

        Assert.True(read.ExitCode == 0, read.Output);
        Assert.Equal(1, promote.ExitCode);
        Assert.StartsWith("error: forbidden: context \"envtest\" may not patch grumodel \"session-recs\" in namespace \"ml\"", promote.Stderr, StringComparison.Ordinal);
        Assert.Contains("Ask for a Role granting patch on grumodels.serving.gru.dev", promote.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, elsewhere.ExitCode);
        Assert.StartsWith("error: forbidden: context \"envtest\" may not list", elsewhere.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", promote.Stderr + elsewhere.Stderr, StringComparison.Ordinal);
        // Nothing was written by the denied action.
        var model = await GetAsync("session-recs", "ml");
        Assert.False(model.GetProperty("metadata").TryGetProperty("annotations", out var annotations) && annotations.TryGetProperty("serving.gru.dev/action", out _));
    }

    private async Task<JsonElement> GetAsync(string name, string ns)
    {
        using var doc = JsonDocument.Parse(await fixture.KubectlOkAsync(["get", "grumodel", name, "-n", ns, "-o", "json", "--show-managed-fields"], Deadline));
        return doc.RootElement.Clone();
    }
}
