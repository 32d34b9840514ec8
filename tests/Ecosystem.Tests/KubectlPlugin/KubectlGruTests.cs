using Ecosystem.Tests.Cluster;
using System.Text;
using System.Text.Json;

namespace Ecosystem.Tests.KubectlPlugin;

/// <summary>`kubectl gru` as a user runs it: the built executable against LocalCluster through a kubeconfig.</summary>
[Collection(ProcessCollection.Name)]
public sealed class KubectlGruTests(KubectlGruFixture fixture) : IClassFixture<KubectlGruFixture>
{
    private static CancellationToken Deadline => new CancellationTokenSource(TimeSpan.FromMinutes(1)).Token;

    [Fact]
    public async Task List_across_namespaces_shows_phase_stable_canary_weight_step_and_verdict()
    {
        var run = await fixture.GruAsync("list", "-A");

        Assert.True(run.ExitCode == 0, run.Output);
        var line = Assert.Single(run.Stdout.Split('\n'), l => l.Contains("session-recs", StringComparison.Ordinal));
        Assert.Equal(["ml", "session-recs", "Progressing", "4c1a2f9e8d7b", "10%", "1", "Passed", "3/3"], line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[..8]);
        Assert.Contains(run.Stdout.Split('\n'), l => l.Contains("default", StringComparison.Ordinal) && l.Contains("sample-gru", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Namespace_and_context_flags_choose_like_kubectl()
    {
        var fromContext = await fixture.GruAsync("--context", "ml", "list");
        var fromFlag = await fixture.GruAsync("list", "-n", "default");
        var defaultContext = await fixture.GruAsync("list");

        Assert.True(fromContext.ExitCode == 0, fromContext.Output);
        Assert.Contains("session-recs", fromContext.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("sample-gru", fromContext.Stdout, StringComparison.Ordinal);
        Assert.Contains("sample-gru", fromFlag.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("session-recs", fromFlag.Stdout, StringComparison.Ordinal);
        Assert.Contains("sample-gru", defaultContext.Stdout, StringComparison.Ordinal);   // the current context's namespace is default
    }

    [Fact]
    public async Task Status_shows_step_weights_the_last_analysis_with_its_numbers_verification_and_history()
    {
        var run = await fixture.GruAsync("status", "session-recs", "-n", "ml");

        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains("ml/session-recs  phase Progressing", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("stable: revision 3, model 4c1a2f9e8d7b, 3/3 ready", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("replicas: 4/3 (pods in all tracks / spec.serving.replicas", run.Stdout, StringComparison.Ordinal); // stable 3 + canary 1 of 3
        Assert.Contains("canary: revision 4, model 9f8e7d6c5b4a, step 1, weight 10%", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("analysis: 3 runs, 0 consecutive failed, 0 consecutive inconclusive; last run 2026-11-29T10:01:30Z: Passed", run.Stdout, StringComparison.Ordinal);
        var metric = Assert.Single(run.Stdout.Split('\n'), l => l.TrimStart().StartsWith("latencyP95", StringComparison.Ordinal));
        Assert.Equal(["latencyP95", "0.081", "0.2", "0.079", "0.4124", "Passed"], metric.Split(' ', StringSplitOptions.RemoveEmptyEntries)[..6]);
        Assert.Contains("served models: 3 verified, 0 mismatched", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("autoscaling: 3 replicas (min 2, max 8), inFlightRequests 5.6 per pod over 2 pods (target 4); ScaledUp, last scaled 2026-11-29T10:01:45Z: inFlightRequests 5.6 per pod against a target of 4: 2 → 3.", run.Stdout, StringComparison.Ordinal);
        Assert.Contains(run.Stdout.Split('\n'), l => l.Contains("RolledBack", StringComparison.Ordinal) && l.Contains("AnalysisFailed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task History_lists_finished_rollouts_and_says_so_when_there_are_none()
    {
        var some = await fixture.GruAsync("history", "session-recs", "-n", "ml");
        var none = await fixture.GruAsync("history", "sample-gru");

        Assert.True(some.ExitCode == 0, some.Output);
        var row = Assert.Single(some.Stdout.Split('\n'), l => l.Contains("RolledBack", StringComparison.Ordinal));
        Assert.Equal(["2", "7a6b5c4d3e2f", "RolledBack", "AnalysisFailed"], row.Split(' ', StringSplitOptions.RemoveEmptyEntries)[..4]);
        Assert.Contains("history: no finished rollouts", none.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("promote")]
    [InlineData("abort")]
    [InlineData("resume")]
    [InlineData("retry")]
    public async Task Actions_write_only_the_action_annotation(string action)
    {
        var before = await GetAsync("sample-gru", "default");

        var run = await fixture.GruAsync(action, "sample-gru");

        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains($"{action} requested (serving.gru.dev/action={action})", run.Stdout, StringComparison.Ordinal);
        var after = await GetAsync("sample-gru", "default");
        Assert.Equal(action, after.GetProperty("metadata").GetProperty("annotations").GetProperty("serving.gru.dev/action").GetString());
        Assert.Equal(before.GetProperty("metadata").GetProperty("generation").GetInt64(), after.GetProperty("metadata").GetProperty("generation").GetInt64());
        Assert.Equal(before.GetProperty("spec").GetRawText(), after.GetProperty("spec").GetRawText());
        var mine = Assert.Single(after.GetProperty("metadata").GetProperty("managedFields").EnumerateArray(), m => m.GetProperty("manager").GetString() == "kubectl-gru");
        Assert.Equal(["f:metadata"], mine.GetProperty("fieldsV1").EnumerateObject().Select(p => p.Name));
        Assert.Equal(["f:annotations"], mine.GetProperty("fieldsV1").GetProperty("f:metadata").EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public async Task An_unknown_name_is_a_clear_error_naming_it_and_the_namespace()
    {
        var status = await fixture.GruAsync("status", "sesion-recs", "-n", "ml");
        var promote = await fixture.GruAsync("promote", "sesion-recs", "-n", "ml");

        Assert.Equal(1, status.ExitCode);
        Assert.Equal(1, promote.ExitCode);
        Assert.StartsWith("error: GruModel \"sesion-recs\" not found in namespace \"ml\"", status.Stderr, StringComparison.Ordinal);
        Assert.Contains("kubectl gru list -n ml", promote.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", status.Stderr + promote.Stderr, StringComparison.Ordinal);   // no stack trace
    }

    [Fact]
    public async Task An_rbac_denial_says_who_may_not_do_what_where()
    {
        fixture.Cluster.Cluster.Faults.FailNext(1, 403);

        var run = await fixture.GruAsync("abort", "session-recs", "-n", "ml");

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith("error: forbidden: context \"local-cluster\" may not get grumodel \"session-recs\" in namespace \"ml\"", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("Ask for a Role granting get on grumodels.serving.gru.dev", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_context_that_does_not_exist_is_a_one_line_error()
    {
        var run = await fixture.GruAsync("--context", "prod", "list");

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith("error: kubeconfig:", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("prod", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_watch_shows_each_change_until_stopped()
    {
        var output = new StringBuilder();
        using var watch = fixture.StartGru(output, "status", "session-recs", "-n", "ml", "-w");
        try
        {
            await WaitForAsync(output, "phase Progressing");
            await fixture.Cluster.KubectlOkAsync(
                ["patch", "grumodel", "session-recs", "-n", "ml", "--subresource=status", "--type=merge", "-p", """{"status":{"phase":"Paused","message":"paused after 4 consecutive inconclusive analysis runs"}}"""], Deadline);
            await WaitForAsync(output, "phase Paused");
            await fixture.Cluster.KubectlOkAsync(["patch", "grumodel", "session-recs", "-n", "ml", "--subresource=status", "--type=merge", "-p", KubectlGruFixture.CanaryStatus], Deadline);
        }
        finally
        {
            watch.Kill(entireProcessTree: true);
            await watch.WaitForExitAsync();
        }

        lock (output) Assert.Contains("paused after 4 consecutive inconclusive analysis runs", output.ToString(), StringComparison.Ordinal);
    }

    private static async Task WaitForAsync(StringBuilder output, string text)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            lock (output)
            {
                if (output.ToString().Contains(text, StringComparison.Ordinal)) return;
            }

            await Task.Delay(200);
        }

        lock (output) throw new TimeoutException($"`kubectl gru status -w` never showed \"{text}\"; output:\n{output}");
    }

    private async Task<JsonElement> GetAsync(string name, string ns)
    {
        using var doc = JsonDocument.Parse(await fixture.Cluster.KubectlOkAsync(["get", "grumodel", name, "-n", ns, "-o", "json", "--show-managed-fields"], Deadline));
        return doc.RootElement.Clone();
    }
}
