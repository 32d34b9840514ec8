using System.Text.RegularExpressions;
using TestSupport;
using TestSupport.ArgoCd;
using YamlDotNet.RepresentationModel;

namespace Ecosystem.Tests.ArgoCd;

/// <summary>
/// The GruModel health check against its cases in Argo CD's layout (health_test.yaml + testdata/), the same files
/// Argo CD's own resource_customizations tests read, plus the argocd-cm snippet that installs it.
/// </summary>
public sealed partial class ArgoHealthCheckTests
{
    // Each call gives a fresh two-minute deadline: a hung lua5.1 fails the test instead of the run.
    private static CancellationToken Deadline => new CancellationTokenSource(TimeSpan.FromMinutes(2)).Token;

    private static readonly string[] ArgoStatuses = ["Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"];

    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var (input, status, message) in ReadCases()) data.Add(input, status, message);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Each_case_in_health_test_yaml_gets_its_status_and_message(string inputPath, string status, string message)
    {
        var yaml = await File.ReadAllTextAsync(Path.Combine(ArgoHealthCheck.Directory, inputPath), Deadline);
        var script = await File.ReadAllTextAsync(ArgoHealthCheck.ScriptPath, Deadline);

        var health = await ArgoHealthCheck.EvaluateAsync(script, yaml, Deadline);

        Assert.Equal((status, message), (health.Status, health.Message));
    }

    [Fact]
    public void Every_testdata_file_is_a_case_and_every_health_status_is_covered()
    {
        var cases = ReadCases();
        var files = Directory.GetFiles(Path.Combine(ArgoHealthCheck.Directory, "testdata"), "*.yaml")
            .Select(f => "testdata/" + Path.GetFileName(f)).Order().ToList();

        Assert.Equal(files, cases.Select(c => c.Input).Order().ToList());
        Assert.All(cases, c => Assert.Contains(c.Status, ArgoStatuses));
        Assert.Equal(["Degraded", "Healthy", "Progressing", "Suspended"], cases.Select(c => c.Status).Distinct().Order().ToArray());
        // Argo CD's convention: the file name starts with the status it expects, so a wrong row is easy to spot.
        Assert.All(cases, c => Assert.StartsWith(c.Status.ToLowerInvariant() + "_", Path.GetFileName(c.Input)));
    }

    /// <summary>The phases docs/API.md lists, each with the health docs/API.md gives it.</summary>
    public static TheoryData<string, string> DocumentedPhases()
    {
        var expected = new Dictionary<string, string>
        {
            ["Pending"] = "Progressing", ["Progressing"] = "Progressing", ["Promoting"] = "Progressing",
            ["Paused"] = "Suspended", ["Healthy"] = "Healthy",
            ["Degraded"] = "Degraded", ["RolledBack"] = "Degraded", ["Failed"] = "Degraded",
        };
        var api = File.ReadAllText(Path.Combine(Repository.Root, "docs", "API.md"));
        var phases = PhaseLine().Match(api) is { Success: true } m
            ? m.Groups[1].Value.Split('|', StringSplitOptions.TrimEntries)
            : throw new InvalidOperationException("docs/API.md has no `phase: A | B | ...` line");
        var data = new TheoryData<string, string>();
        foreach (var phase in phases)
        {
            // A phase added to the API without a decision here fails loudly instead of falling through to a guess.
            data.Add(phase, expected.TryGetValue(phase, out var health) ? health : $"<no health decided for phase {phase}>");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(DocumentedPhases))]
    public async Task Each_documented_phase_maps_to_the_documented_health(string phase, string expected)
    {
        var yaml = $$"""
            apiVersion: serving.gru.dev/v1alpha1
            kind: GruModel
            metadata: {name: m, namespace: ml, generation: 3}
            status:
              observedGeneration: 3
              phase: {{phase}}
              message: "phase {{phase}}"
              conditions:
                - {type: Ready, status: "True", reason: StableServing, observedGeneration: 3, message: ok}
              stable: {revision: "1", replicas: 2, readyReplicas: 2}
            """;
        var script = await File.ReadAllTextAsync(ArgoHealthCheck.ScriptPath, Deadline);

        var health = await ArgoHealthCheck.EvaluateAsync(script, yaml, Deadline);

        Assert.Equal(expected, health.Status);
    }

    [Fact]
    public void The_argocd_cm_snippet_installs_exactly_health_lua_under_the_key_argo_cd_reads()
    {
        var patch = new YamlStream();
        patch.Load(new StringReader(File.ReadAllText(Path.Combine(Repository.Root, "config", "argocd", "argocd-cm-patch.yaml"))));
        var data = (YamlMappingNode)((YamlMappingNode)patch.Documents[0].RootNode)["data"];

        // Argo CD >= 2.0 reads resource.customizations.health.<group>_<kind> (a "/" in the key is not allowed).
        var key = Assert.Single(data.Children.Keys.Cast<YamlScalarNode>()).Value;
        Assert.Equal("resource.customizations.health.serving.gru.dev_GruModel", key);
        Assert.Equal(File.ReadAllText(ArgoHealthCheck.ScriptPath), ((YamlScalarNode)data[key!]).Value);
    }

    [Fact]
    public async Task A_script_error_is_reported_not_read_as_a_status()
    {
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            ArgoHealthCheck.EvaluateAsync("return obj.status.phase.missing", "metadata: {name: m}", Deadline));

        Assert.Contains("attempt to index", ex.Message, StringComparison.Ordinal);
    }

    private static List<(string Input, string Status, string Message)> ReadCases()
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(Path.Combine(ArgoHealthCheck.Directory, "health_test.yaml"))));
        var tests = (YamlSequenceNode)((YamlMappingNode)stream.Documents[0].RootNode)["tests"];
        return tests.Children.Cast<YamlMappingNode>().Select(t =>
        {
            var health = (YamlMappingNode)t["healthStatus"];
            return (((YamlScalarNode)t["inputPath"]).Value!, ((YamlScalarNode)health["status"]).Value!, ((YamlScalarNode)health["message"]).Value!);
        }).ToList();
    }

    [GeneratedRegex(@"phase: \w+ +# ([A-Za-z]+(?: \| [A-Za-z]+)+)")]
    private static partial Regex PhaseLine();
}
