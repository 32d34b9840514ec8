using System.Net.Sockets;
using GruDemo;
using GruDemo.Stack;
using GruDemo.Story;
using GruDemo.View;

namespace GruDemo.Tests;

/// <summary>
/// `make demo`'s story, headless: LocalCluster, the node agent running real GruServer pods, Prometheus scraping them
/// through the agent's http_sd, a real registry, the operator process and the load generator. v2 must be promoted by its
/// analysis, the really slower v3 rolled back naming latencyP95, and nothing may keep running afterwards. Without
/// Prometheus or docker-registry it fails with the message naming the package (never a skip).
/// </summary>
public sealed class DemoStoryTests
{
    private const int FirstPodAddress = 60; // not the demo's 40, nor the agent tests' 20 and 120

    [Fact]
    public async Task TheStoryPromotesV2StepByStepThenRollsBackTheSlowV3NamingTheFailingMetric()
    {
        var work = Directory.CreateTempSubdirectory("gru-demo-test-").FullName;
        var lines = new StringWriter();
        var output = TextWriter.Synchronized(lines);
        var view = new PlainView(output);
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(12));
        DemoReport report;
        try
        {
            await using (var stack = await DemoStack.StartAsync(new DemoOptions { WorkDirectory = work, FirstPodAddress = FirstPodAddress }, output.WriteLine, deadline.Token))
            {
                try
                {
                    report = await new CanaryStory(stack, view).RunAsync(deadline.Token);
                }
                catch (Exception e) when (e is TimeoutException or OperationCanceledException)
                {
                    throw new Xunit.Sdk.XunitException($"{e.Message}\n{lines}\noperator log:\n{Tail(stack.OperatorLog)}\nstack log:\n{Tail(stack.StackLog)}");
                }
            }

            var (v1, v2, v3) = (report.Published[0], report.Published[1], report.Published[2]);
            Assert.Equal(v1.Digest, report.AfterFirstDeploy.StableDigest);
            Assert.Equal(2, report.AfterFirstDeploy.StableReadyReplicas);

            // v2: promoted by analysis, after a Passed run at each of its two steps (a fresh pod's first requests are slow,
            // so one run may fail; failureLimit 2 asks for two in a row).
            Assert.Equal(v2.Digest, report.AfterPromotion.StableDigest);
            var promotion = report.AfterPromotion.History[0];
            Assert.Equal(("Promoted", "AnalysisPassed", v2.Digest), (promotion.Outcome, promotion.Reason, promotion.ModelDigest));
            var v2Runs = report.Runs.Where(r => r.Revision == promotion.Revision).ToList();
            Assert.True(v2Runs.Any(r => r.Step == 0 && r.Verdict == "Passed") && v2Runs.Any(r => r.Step == 1 && r.Verdict == "Passed"),
                "a Passed run at each step:\n" + lines);

            // v3: rolled back on latency, stable still v2's digest, the failing metric named with its numbers.
            var rollback = report.AfterRollback.History[0];
            Assert.Equal(("RolledBack", "AnalysisFailed", v3.Digest), (rollback.Outcome, rollback.Reason, rollback.ModelDigest));
            Assert.Equal("RolledBack", report.AfterRollback.Phase);
            Assert.Equal(v2.Digest, report.AfterRollback.StableDigest);
            Assert.Contains("latencyP95: value ", rollback.Message, StringComparison.Ordinal);
            Assert.Contains("threshold 0.05", rollback.Message, StringComparison.Ordinal);
            var failing = Assert.Single(report.FailingMetrics);
            Assert.Equal("latencyP95", failing.Name);
            Assert.True(double.Parse(failing.Value!, System.Globalization.CultureInfo.InvariantCulture) > 0.05, failing.Value);
            Assert.Contains("latencyP95 Failed: value ", lines.ToString(), StringComparison.Ordinal);
            Assert.Contains(report.Pods, p => p.Revision == "3" && p.StartToReady is not null);

            // Stopped: no pod still serves on any address the story's pods had.
            for (var n = FirstPodAddress; n < FirstPodAddress + report.Pods.Count; n++)
            {
                using var probe = new TcpClient();
                await Assert.ThrowsAsync<SocketException>(() => probe.ConnectAsync($"127.0.0.{n}", 8080));
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static string Tail(string path) =>
        File.Exists(path) ? string.Join('\n', File.ReadLines(path).TakeLast(60)) : "(no log)";
}
