using System.Net;
using System.Net.Sockets;
using System.Text;
using GruOperator.Scaling;

namespace GruOperator.Tests.Scaling;

/// <summary>
/// pod-deletion-cost from GruServer's gru_sessions_active: the gauge read out of a Prometheus exposition (anything
/// unreadable leaves the pod alone), a patch only when the value changed, and the probe bounded in size.
/// </summary>
public sealed class PodDeletionCostTests
{
    public static TheoryData<string, string, int?> Expositions => new()
    {
        { "plain", "gru_sessions_active 7\n", 7 },
        { "labelled, as GruServer writes it", "# TYPE gru_sessions_active gauge\ngru_sessions_active{model=\"m\",revision=\"3\",track=\"stable\"} 42\n", 42 },
        { "with a timestamp", "gru_sessions_active{model=\"m\"} 3 1733650000000\n", 3 },
        { "among other series", "gru_requests_total{code=\"200\"} 900\ngru_sessions_active 0\ngru_queue_depth 4\n", 0 },
        { "a label value with a brace", "gru_sessions_active{model=\"a}b\"} 5\n", 5 },
        { "two series summed", "gru_sessions_active{track=\"stable\"} 2\ngru_sessions_active{track=\"canary\"} 3\n", 5 },
        { "CRLF lines", "gru_sessions_active 9\r\n", 9 },
        { "float formatting", "gru_sessions_active 1.2e1\n", 12 },
        { "absent", "gru_requests_total 5\n", null },
        { "only a longer name sharing the prefix", "gru_sessions_active_total 5\n", null },
        { "only comments", "# HELP gru_sessions_active Live sequences\n# TYPE gru_sessions_active gauge\n", null },
        { "NaN", "gru_sessions_active NaN\n", null },
        { "negative", "gru_sessions_active -1\n", null },
        { "not a number", "gru_sessions_active many\n", null },
        { "empty", "", null },
    };

    [Theory]
    [MemberData(nameof(Expositions))]
    public void The_session_gauge_is_read_from_the_exposition(string why, string exposition, int? sessions) =>
        Assert.True(PodDeletionCost.Sessions(exposition) == sessions, $"{why}: expected {sessions?.ToString() ?? "null"}, got {PodDeletionCost.Sessions(exposition)?.ToString() ?? "null"}");

    [Theory]
    [InlineData(null, 0, "0")]
    [InlineData(null, 12, "12")]
    [InlineData("12", 12, null)]
    [InlineData("12", 11, "11")]
    [InlineData("0", 0, null)]
    [InlineData("garbage", 3, "3")]
    public void The_annotation_is_patched_only_when_the_count_changed(string? current, int sessions, string? patch) =>
        Assert.Equal(patch, PodDeletionCost.Change(current, sessions));

    [Fact]
    public async Task The_probe_reads_a_pods_count_and_refuses_an_oversized_answer()
    {
        using var http = new HttpClient();
        var probe = new SessionCountProbe(http);

        var small = await ServeOnceAsync("gru_sessions_active{track=\"stable\"} 17\n");
        Assert.Equal(17, await probe.CountAsync("127.0.0.1", small.Port, CancellationToken.None));
        await small.Served;

        // Padding first, the gauge at the end: read only if the whole answer were buffered past the bound.
        var huge = await ServeOnceAsync(new string('#', SessionCountProbe.MaxResponseBytes) + "\ngru_sessions_active 5\n");
        Assert.Null(await probe.CountAsync("127.0.0.1", huge.Port, CancellationToken.None));

        var failing = await ServeOnceAsync("gru_sessions_active 5\n", status: "500 Internal Server Error");
        Assert.Null(await probe.CountAsync("127.0.0.1", failing.Port, CancellationToken.None));
    }

    /// <summary>One HTTP answer on a fresh loopback port (no chunking: Content-Length as a server would send it).</summary>
    private static Task<(int Port, Task Served)> ServeOnceAsync(string body, string status = "200 OK")
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var served = Task.Run(async () =>
        {
            try
            {
                using var socket = await listener.AcceptTcpClientAsync();
                await using var stream = socket.GetStream();
                var request = new byte[4096];
                _ = await stream.ReadAsync(request);
                var bytes = Encoding.UTF8.GetBytes(body);
                var head = Encoding.ASCII.GetBytes($"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {bytes.Length}\r\nConnection: close\r\n\r\n");
                await stream.WriteAsync(head);
                try
                {
                    await stream.WriteAsync(bytes);
                }
                catch (IOException)
                {
                    // The probe stopped reading at its bound and closed the connection.
                }
            }
            finally
            {
                listener.Stop();
            }
        });
        return Task.FromResult((port, served));
    }
}
