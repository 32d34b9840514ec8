using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace LocalServers;

/// <summary>
/// The real Distribution registry (Debian's <c>docker-registry</c>, 2.8) on a free 127.0.0.1 port, storing blobs in a
/// temp dir, with deletes enabled and one of: no auth, htpasswd basic auth (bcrypt entries written here), or token auth
/// trusting a token issuer (<see cref="RegistryTokenAuth"/>). Fails with a clear message when the binary is missing (run
/// <c>make deps</c>); tests never skip.
/// </summary>
public sealed class RegistryProcess : IAsyncDisposable
{
    private readonly string _directory;
    private readonly string _config;
    private readonly ProcessLog _log = new();
    private Process _process;

    private RegistryProcess(Process process, string directory, string config, int port)
    {
        _process = process;
        _directory = directory;
        _config = config;
        Port = port;
    }

    /// <summary>The port it listens on (127.0.0.1).</summary>
    public int Port { get; }

    /// <summary>host:port, as in oci://127.0.0.1:PORT/repo:tag.</summary>
    public string Host => $"127.0.0.1:{Port}";

    /// <summary>The storage root; blobs live under docker/registry/v2/blobs/sha256/&lt;2&gt;/&lt;hex&gt;/data.</summary>
    public string StorageDirectory => Path.Combine(_directory, "data");

    /// <summary>False once the process has exited.</summary>
    public bool IsRunning => !_process.HasExited;

    /// <summary>What the registry logged so far, for assertion messages.</summary>
    public string Log => _log.ToString();

    /// <summary>The binary: /usr/bin/docker-registry or the first one on PATH.</summary>
    public static string FindBinary() => InstalledBinary.Find("docker-registry", "docker-registry");

    /// <summary>A registry without auth.</summary>
    public static Task<RegistryProcess> StartAnonymousAsync(CancellationToken cancellationToken) =>
        StartAsync(_ => "", cancellationToken);

    /// <summary>A registry with htpasswd basic auth for the given users (name → password).</summary>
    public static Task<RegistryProcess> StartWithBasicAuthAsync(IReadOnlyDictionary<string, string> users, CancellationToken cancellationToken) =>
        StartAsync(directory =>
        {
            var htpasswd = Path.Combine(directory, "htpasswd");
            // Distribution reads bcrypt entries only; a low cost keeps the tests fast.
            File.WriteAllLines(htpasswd, users.Select(u => $"{u.Key}:{BCrypt.Net.BCrypt.HashPassword(u.Value, workFactor: 5)}"));
            return $"auth:\n  htpasswd:\n    realm: gru-test\n    path: {htpasswd}\n";
        }, cancellationToken);

    /// <summary>A registry with token auth: it sends clients to <paramref name="auth"/>'s realm and trusts its signing certificate.</summary>
    public static Task<RegistryProcess> StartWithTokenAuthAsync(RegistryTokenAuth auth, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(auth);
        return StartAsync(directory =>
        {
            var bundle = Path.Combine(directory, "token-ca.pem");
            File.WriteAllText(bundle, auth.CertificatePem);
            return $"auth:\n  token:\n    realm: {auth.Realm}\n    service: {auth.Service}\n" +
                   $"    issuer: {auth.Issuer}\n    rootcertbundle: {bundle}\n";
        }, cancellationToken);
    }

    /// <summary>
    /// A registry without auth serving https with a server certificate for 127.0.0.1 issued by a CA generated here;
    /// <see cref="CaCertificateFile"/> is that CA's PEM, for clients to trust.
    /// </summary>
    public static Task<RegistryProcess> StartWithTlsAsync(CancellationToken cancellationToken) =>
        StartAsync(_ => "", cancellationToken, tls: true);

    /// <summary>PEM of the CA that issued the registry's certificate (TLS registries only).</summary>
    public string? CaCertificateFile { get; private set; }

    /// <summary>The file holding a blob in the registry's storage (to corrupt it in tests).</summary>
    public string BlobDataPath(string digest)
    {
        ArgumentNullException.ThrowIfNull(digest);
        var hex = digest["sha256:".Length..];
        return Path.Combine(StorageDirectory, "docker", "registry", "v2", "blobs", "sha256", hex[..2], hex, "data");
    }

    /// <summary>Kills the registry at once (a crash, not a shutdown).</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
    }

    /// <summary>Starts it again on the same port and storage after <see cref="Kill"/>.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken)
    {
        Kill();
        await _process.WaitForExitAsync(cancellationToken);
        _process.Dispose();
        _process = Launch(_config, this);
        await WaitReadyAsync(TimeSpan.FromSeconds(30), cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(cts.Token);
        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // a file still held open only leaks a temp dir
        }
    }

    private static async Task<RegistryProcess> StartAsync(Func<string, string> authSection, CancellationToken cancellationToken, bool tls = false)
    {
        FindBinary();
        Exception? last = null;
        for (var attempt = 0; attempt < 3; attempt++) // a free port can be taken between probing and binding
        {
            var directory = Directory.CreateTempSubdirectory("gru-registry-").FullName;
            var port = FreePort.Next();
            var config = Path.Combine(directory, "config.yml");
            await File.WriteAllTextAsync(config,
                "version: 0.1\n" +
                "log:\n  level: warn\n  accesslog:\n    disabled: true\n" +
                $"storage:\n  filesystem:\n    rootdirectory: {Path.Combine(directory, "data")}\n  delete:\n    enabled: true\n" +
                "  cache:\n    blobdescriptor: inmemory\n" +
                $"http:\n  addr: 127.0.0.1:{port}\n  secret: gru-test-secret\n" +
                (tls ? TlsSection(directory) : "") +
                authSection(directory), cancellationToken);
            var registry = new RegistryProcess(null!, directory, config, port)
            {
                CaCertificateFile = tls ? Path.Combine(directory, "ca.pem") : null,
            };
            registry._process = Launch(config, registry);
            try
            {
                await registry.WaitReadyAsync(TimeSpan.FromSeconds(30), cancellationToken);
                return registry;
            }
            catch (InvalidOperationException ex)
            {
                last = ex;
                await registry.DisposeAsync();
            }
        }

        throw new InvalidOperationException("docker-registry did not start after 3 attempts", last);
    }

    /// <summary>Writes ca.pem and a server certificate for 127.0.0.1 (ECDSA P-256) it issued; returns the tls config lines.</summary>
    private static string TlsSection(string directory)
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=gru test registry CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(2));

        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var serverRequest = new CertificateRequest("CN=127.0.0.1", serverKey, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        serverRequest.CertificateExtensions.Add(names.Build());
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var server = serverRequest.Create(ca, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1), RandomNumberGenerator.GetBytes(16));

        File.WriteAllText(Path.Combine(directory, "ca.pem"), ca.ExportCertificatePem());
        File.WriteAllText(Path.Combine(directory, "server.pem"), server.ExportCertificatePem());
        File.WriteAllText(Path.Combine(directory, "server.key"), serverKey.ExportPkcs8PrivateKeyPem());
        return $"  tls:\n    certificate: {Path.Combine(directory, "server.pem")}\n    key: {Path.Combine(directory, "server.key")}\n";
    }

    private static Process Launch(string config, RegistryProcess registry)
    {
        var start = new ProcessStartInfo(FindBinary())
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
            ArgumentList = { "serve", config },
        };
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start docker-registry");
        registry._log.Attach(process);
        return process;
    }

    private async Task WaitReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        // Readiness only: the certificate is checked by the tests, not here.
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(5) };
        var scheme = CaCertificateFile is null ? "http" : "https";
        // 200 without auth, 401 with: either way it answers the API.
        switch (await ServerReadiness.WaitAsync(http, new Uri($"{scheme}://{Host}/v2/"), _ => true, () => _process.HasExited, timeout, TimeSpan.FromMilliseconds(100), cancellationToken))
        {
            case ReadinessOutcome.Exited:
                throw new InvalidOperationException($"docker-registry exited with code {_process.ExitCode}: {Log}");
            case ReadinessOutcome.TimedOut:
                throw new InvalidOperationException($"docker-registry was not ready within {timeout}: {Log}");
        }
    }

}

/// <summary>What a token-auth registry is told about its token issuer: where clients get tokens, the names in them, its certificate.</summary>
public sealed record RegistryTokenAuth(string Realm, string Service, string Issuer, string CertificatePem);
