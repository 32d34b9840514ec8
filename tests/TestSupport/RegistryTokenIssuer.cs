using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace TestSupport;

/// <summary>
/// A small token service for Distribution's token auth (the docker token spec): answers
/// <c>GET /token?service=&amp;scope=repository:name:actions</c> with a JWT signed (ES256) by a self-signed certificate
/// that the registry trusts through <c>rootcertbundle</c>; the certificate travels in the JWT's <c>x5c</c> header.
/// Users are checked with Basic auth; anonymous callers get pull only when <see cref="AnonymousPull"/> is set.
/// JWTs are written by hand (header.payload.signature, base64url): a few lines, no JWT package needed for a test.
/// </summary>
public sealed class RegistryTokenIssuer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ECDsa _key;
    private readonly X509Certificate2 _certificate;
    private readonly Dictionary<string, string> _users;
    private int _issued;

    private RegistryTokenIssuer(WebApplication app, ECDsa key, X509Certificate2 certificate, Dictionary<string, string> users, Uri realm)
    {
        _app = app;
        _key = key;
        _certificate = certificate;
        _users = users;
        Realm = realm;
    }

    /// <summary>The <c>service</c> (JWT audience) the registry is configured with.</summary>
    public const string Service = "gru-test-registry";

    /// <summary>The <c>issuer</c> the registry accepts.</summary>
    public const string Issuer = "gru-test-token-issuer";

    /// <summary>Where clients ask for tokens.</summary>
    public Uri Realm { get; }

    /// <summary>When true, callers without credentials get pull (not push) access.</summary>
    public bool AnonymousPull { get; set; }

    /// <summary>Tokens issued so far, to check that clients cache them.</summary>
    public int Issued => Volatile.Read(ref _issued);

    /// <summary>The signing certificate as PEM, for the registry's <c>rootcertbundle</c>.</summary>
    public string CertificatePem => _certificate.ExportCertificatePem();

    /// <summary>What a token-auth <see cref="RegistryProcess"/> needs to trust this issuer.</summary>
    public RegistryTokenAuth Auth => new(Realm.ToString(), Service, Issuer, CertificatePem);

    /// <summary>Starts the issuer on a free 127.0.0.1 port with the given users (name → password).</summary>
    public static async Task<RegistryTokenIssuer> StartAsync(IReadOnlyDictionary<string, string> users, CancellationToken cancellationToken)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=gru test token issuer", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyCertSign, true));
        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));

        var port = FreePort.Next();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        var issuer = new RegistryTokenIssuer(app, key, certificate, new Dictionary<string, string>(users), new Uri($"http://127.0.0.1:{port}/token"));
        app.MapGet("/token", issuer.Answer);
        await app.StartAsync(cancellationToken);
        return issuer;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _certificate.Dispose();
        _key.Dispose();
    }

    private IResult Answer(HttpContext context)
    {
        var user = Authenticate(context.Request.Headers.Authorization.ToString());
        if (user is null && context.Request.Headers.Authorization.Count > 0)
        {
            return Results.Json(new { errors = new[] { new { code = "UNAUTHORIZED", message = "wrong user or password" } } }, statusCode: 401);
        }

        var access = new List<object>();
        foreach (var scope in context.Request.Query["scope"])
        {
            // repository:<name>:<actions>; a name holds no ':' in the distribution grammar.
            var parts = scope!.Split(':');
            if (parts.Length != 3 || parts[0] != "repository")
            {
                continue;
            }

            var requested = parts[2].Split(',', StringSplitOptions.RemoveEmptyEntries);
            var granted = user is not null ? requested : AnonymousPull ? requested.Where(a => a == "pull").ToArray() : [];
            access.Add(new { type = "repository", name = parts[1], actions = granted });
        }

        Interlocked.Increment(ref _issued);
        return Results.Json(new { token = Jwt(user ?? "", access), expires_in = 300 });
    }

    private string? Authenticate(string header)
    {
        if (!header.StartsWith("Basic ", StringComparison.Ordinal))
        {
            return null;
        }

        var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..]));
        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 && _users.TryGetValue(decoded[..colon], out var password) && password == decoded[(colon + 1)..] ? decoded[..colon] : null;
    }

    private string Jwt(string subject, List<object> access)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = new { typ = "JWT", alg = "ES256", x5c = new[] { Convert.ToBase64String(_certificate.RawData) } };
        var claims = new
        {
            iss = Issuer, sub = subject, aud = Service, exp = now + 300, nbf = now - 10, iat = now,
            jti = Guid.NewGuid().ToString("N"), access,
        };
        var signingInput = Base64Url(JsonSerializer.SerializeToUtf8Bytes(header)) + "." + Base64Url(JsonSerializer.SerializeToUtf8Bytes(claims));
        // ES256 in JWS is r||s (IEEE P1363), which is .NET's default ECDSA signature format.
        var signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256);
        return signingInput + "." + Base64Url(signature);
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
