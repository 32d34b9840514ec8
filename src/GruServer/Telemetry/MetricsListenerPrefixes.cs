using System.Net;
using System.Net.Sockets;

namespace GruServer.Telemetry;

/// <summary>HttpListener prefixes for the metrics endpoint. HttpListener matches the request's Host header
/// against its prefixes, so "every address" must be the <c>+</c> wildcard and localhost must also accept
/// 127.0.0.1, or scrapes by IP get 404.</summary>
internal static class MetricsListenerPrefixes
{
    public static IReadOnlyList<string> For(string host, int port) => host switch
    {
        "0.0.0.0" or "::" => [$"http://+:{port}/"],
        "localhost" => [$"http://localhost:{port}/", $"http://127.0.0.1:{port}/"],
        _ when IPAddress.TryParse(host, out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6 => [$"http://[{ip}]:{port}/"],
        _ => [$"http://{host}:{port}/"],
    };
}
