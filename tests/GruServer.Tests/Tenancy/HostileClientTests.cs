using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using TestSupport;
using Xunit.Abstractions;

namespace GruServer.Tests.Tenancy;

/// <summary>
/// Hostile-tenant suite, GruServer's inference port: a client (anyone who reaches the Service) holding the server open
/// with request bodies trickled just above Kestrel's minimum data rate, with many large bodies at once, or with many
/// connections. Each is bounded: a body deadline, a cap on body bytes in flight (503 beyond it), a connection cap.
/// </summary>
public sealed class HostileClientTests(ITestOutputHelper output)
{
    private const int BodyBytes = 16 << 20; // the default --max-request-bytes
    private const int Clients = 30;

    [Fact]
    public async Task TrickledBodiesAreCutOffAtTheDeadlineAndBodiesBeyondTheBudgetGet503()
    {
        var model = await GruTestModels.WriteAsync();
        await using var server = await GruServerProcess.StartAsync(new GruServerStartOptions
        {
            ModelPath = model.Path,
            ModelName = "recs",
            ExtraArguments = ["--request-body-timeout", "3s"],
        });
        var before = PeakMemory.MiB(server.ProcessId);

        // 30 clients each announce a 16 MiB body and send ~300 bytes/s: above Kestrel's 240 bytes/s minimum, so only a
        // deadline ends them; the default budget (128 MiB) admits 8 at a time.
        var watch = Stopwatch.StartNew();
        var outcomes = await Task.WhenAll(Enumerable.Range(0, Clients).Select(_ => TrickleAsync(server.Port, TimeSpan.FromSeconds(20))));
        var peak = PeakMemory.MiB(server.ProcessId);
        output.WriteLine($"GruServer peak RSS: {before:0} MiB before, {peak:0} MiB after {Clients} trickled {BodyBytes >> 20} MiB bodies; " +
            $"{outcomes.Count(o => o.Status == 503)} got 503, {outcomes.Count(o => o.Closed)} were cut off, in {watch.Elapsed.TotalSeconds:0.0}s");

        Assert.True(outcomes.Count(o => o.Status == 503) >= Clients - 8, string.Join(", ", outcomes.Select(o => o.ToString())));
        var admitted = outcomes.Where(o => o.Status != 503).ToList();
        Assert.NotEmpty(admitted);
        Assert.All(admitted, o => Assert.True(o.Closed && o.After < TimeSpan.FromSeconds(10), $"an admitted trickled body was not cut off by the deadline: {o}"));
        Assert.True(peak - before < 200, $"GruServer's peak RSS grew by {peak - before:0} MiB under {Clients} trickled bodies");

        // And the server still serves.
        using var http = new HttpClient { BaseAddress = server.BaseUrl };
        using var content = new StringContent(GruTestModels.InferRequestJson(model.Spec), Encoding.UTF8, "application/json");
        Assert.Equal(System.Net.HttpStatusCode.OK, (await http.PostAsync("v2/models/recs/infer", content)).StatusCode);
    }

    [Fact]
    public async Task ConnectionsBeyondTheCapAreRefused()
    {
        var model = await GruTestModels.WriteAsync();
        await using var server = await GruServerProcess.StartAsync(new GruServerStartOptions
        {
            ModelPath = model.Path,
            ModelName = "recs",
            ExtraArguments = ["--max-connections", "4"],
        });

        var held = new List<TcpClient>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", server.Port);
                held.Add(client);
                // One answered keep-alive request: the connection is accepted and counted, and stays open.
                var stream = client.GetStream();
                await stream.WriteAsync(Encoding.ASCII.GetBytes("GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"));
                Assert.True(await stream.ReadAsync(new byte[4096]) > 0);
            }

            var (status, _, _) = await RequestAsync(server.Port, "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n", TimeSpan.FromSeconds(5));
            Assert.Null(status);
        }
        finally
        {
            held.ForEach(c => c.Dispose());
        }

        // Once the held connections close, a new one is served again.
        await Task.Delay(500);
        var (again, _, _) = await RequestAsync(server.Port, "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n", TimeSpan.FromSeconds(5));
        Assert.Equal(200, again);
    }

    private sealed record Outcome(int? Status, bool Closed, TimeSpan After);

    /// <summary>Announces a <see cref="BodyBytes"/> body and sends 30 bytes every 100 ms until answered, cut off or <paramref name="limit"/>.</summary>
    private static async Task<Outcome> TrickleAsync(int port, TimeSpan limit)
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port);
        var stream = client.GetStream();
        var head = $"POST /v2/models/recs/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {BodyBytes}\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        var watch = Stopwatch.StartNew();
        var buffer = new byte[4096];
        var read = stream.ReadAsync(buffer).AsTask();
        var filler = Encoding.ASCII.GetBytes(new string(' ', 30));
        while (watch.Elapsed < limit)
        {
            if (await Task.WhenAny(read, Task.Delay(100)) == read)
            {
                int n;
                try
                {
                    n = await read;
                }
                catch (IOException)
                {
                    return new Outcome(null, true, watch.Elapsed);
                }

                return n == 0 ? new Outcome(null, true, watch.Elapsed) : new Outcome(Status(buffer, n), false, watch.Elapsed);
            }

            try
            {
                await stream.WriteAsync(filler);
            }
            catch (IOException)
            {
                return new Outcome(null, true, watch.Elapsed);
            }
        }

        return new Outcome(null, false, watch.Elapsed);
    }

    /// <summary>Sends <paramref name="request"/> on a new connection: the status, or null when the connection was closed unanswered.</summary>
    private static async Task<(int? Status, bool Closed, TimeSpan After)> RequestAsync(int port, string request, TimeSpan timeout)
    {
        using var client = new TcpClient();
        var watch = Stopwatch.StartNew();
        await client.ConnectAsync("127.0.0.1", port);
        var stream = client.GetStream();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request), cancel.Token);
            var buffer = new byte[4096];
            var n = await stream.ReadAsync(buffer, cancel.Token);
            return n == 0 ? (null, true, watch.Elapsed) : (Status(buffer, n), false, watch.Elapsed);
        }
        catch (IOException)
        {
            return (null, true, watch.Elapsed);
        }
    }

    private static int? Status(byte[] buffer, int length)
    {
        var line = Encoding.ASCII.GetString(buffer, 0, length).Split("\r\n")[0]; // HTTP/1.1 503 Service Unavailable
        var parts = line.Split(' ');
        return parts.Length > 1 && int.TryParse(parts[1], out var status) ? status : null;
    }
}
