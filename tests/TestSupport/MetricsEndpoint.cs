using System.Net;
using System.Text;

namespace TestSupport;

/// <summary>
/// A tiny Prometheus scrape target on 127.0.0.1: serves whatever text exposition <c>render</c> returns at
/// /metrics, so tests and benchmarks can feed a real Prometheus synthetic series they control.
/// </summary>
public sealed class MetricsEndpoint : IAsyncDisposable
{
    private readonly HttpListener _listener;
    private readonly Func<string> _render;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _scrapes;

    private MetricsEndpoint(HttpListener listener, int port, Func<string> render)
    {
        _listener = listener;
        _render = render;
        Port = port;
        _loop = ServeAsync();
    }

    /// <summary>The port Prometheus should scrape.</summary>
    public int Port { get; }

    /// <summary>Number of scrapes answered so far.</summary>
    public int Scrapes => Volatile.Read(ref _scrapes);

    /// <summary>Starts serving on a free port.</summary>
    public static MetricsEndpoint Start(Func<string> render)
    {
        for (var attempt = 0; ; attempt++)
        {
            var port = FreePort.Next();
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                listener.Start();
                return new MetricsEndpoint(listener, port, render);
            }
            catch (HttpListenerException) when (attempt < 3)
            {
                listener.Close();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        _listener.Close();
        try
        {
            await _loop;
        }
        catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().WaitAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or OperationCanceledException)
            {
                return;
            }

            try
            {
                var body = Encoding.UTF8.GetBytes(_render());
                context.Response.ContentType = "text/plain; version=0.0.4";
                context.Response.ContentLength64 = body.Length;
                await context.Response.OutputStream.WriteAsync(body, _stop.Token);
                Interlocked.Increment(ref _scrapes);
            }
            catch (Exception ex) when (ex is HttpListenerException or IOException or OperationCanceledException)
            {
                // a scrape cut short is retried by Prometheus a second later
            }
            finally
            {
                context.Response.Close();
            }
        }
    }
}
