using System.Text;
using GruRegistry.Distribution;
using GruRegistry.References;
using GruRegistry.Tests.Support;
using TestSupport;

namespace GruRegistry.Tests.Integration;

/// <summary>The real registry with htpasswd basic auth: the right credentials work, missing or wrong ones are a clear 401.</summary>
public sealed class BasicAuthRegistryTests : IAsyncLifetime
{
    private static readonly Dictionary<string, string> Users = new() { ["ci-robot"] = "s3cret-Pa55" };
    private RegistryProcess _registry = null!;
    private RegistryClients _clients = null!;

    public async Task InitializeAsync()
    {
        _registry = await RegistryProcess.StartWithBasicAuthAsync(Users, CancellationToken.None);
        _clients = new RegistryClients(_registry.Host);
    }

    public async Task DisposeAsync()
    {
        _clients.Dispose();
        await _registry.DisposeAsync();
    }

    private OciReference Ref(string repositoryAndTag) => OciReference.Parse($"oci://{_registry.Host}/{repositoryAndTag}");

    [Fact]
    public async Task PushesAndPullsWithUsernameAndPassword()
    {
        var model = await GruTestModels.WriteAsync();
        var models = _clients.Models(RegistryCredentials.For(_registry.Host, "ci-robot", "s3cret-Pa55"));

        var pushed = await models.PushAsync(model.Path, TestArtifacts.Config(), Ref("models/recs:1.0"), null, null, CancellationToken.None);
        var resolved = await models.ResolveAsync(Ref("models/recs:1.0"), CancellationToken.None);
        var output = TestArtifacts.TempPath();
        await models.PullAsync(resolved, output, null, CancellationToken.None);

        Assert.Equal(pushed.ManifestDigest, resolved.ManifestDigest);
        Assert.Equal(await File.ReadAllBytesAsync(model.Path), await File.ReadAllBytesAsync(output));
    }

    [Fact]
    public async Task PullsWithDockerConfigJsonCredentials()
    {
        var model = await GruTestModels.WriteAsync();
        var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes("ci-robot:s3cret-Pa55"));
        var credentials = RegistryCredentials.FromDockerConfigJson($"{{\"auths\":{{\"{_registry.Host}\":{{\"auth\":\"{auth}\"}}}}}}", "test config");
        var models = _clients.Models(credentials);

        await models.PushAsync(model.Path, TestArtifacts.Config(), Ref("models/recs:1.0"), null, null, CancellationToken.None);
        var resolved = await models.ResolveAsync(Ref("models/recs:1.0"), CancellationToken.None);

        Assert.Equal($"sha256:{model.Sha256}", resolved.LayerDigest.ToString());
    }

    [Theory]
    [InlineData(null, "give credentials")]
    [InlineData("wrong-password", "give credentials")]
    public async Task MissingOrWrongCredentialsAreUnauthorizedNamingTheReference(string? password, string message)
    {
        var credentials = password is null ? RegistryCredentials.Anonymous : RegistryCredentials.For(_registry.Host, "ci-robot", password);

        var error = await Assert.ThrowsAsync<RegistryException>(() => _clients.Models(credentials).ResolveAsync(Ref("models/recs:1.0"), CancellationToken.None));

        Assert.Equal(RegistryErrorKind.Unauthorized, error.Kind);
        Assert.StartsWith($"oci://{_registry.Host}/models/recs:1.0: manifest: the registry refused access (401 Unauthorized", error.Message, StringComparison.Ordinal);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }
}

/// <summary>
/// The real registry with token auth (the Bearer challenge GHCR, Docker Hub and Harbor use) and a token issuer
/// started by the test: tokens are fetched per scope, cached, and refusals are clear.
/// </summary>
public sealed class TokenAuthRegistryTests : IAsyncLifetime
{
    private RegistryTokenIssuer _issuer = null!;
    private RegistryProcess _registry = null!;
    private RegistryClients _clients = null!;

    public async Task InitializeAsync()
    {
        _issuer = await RegistryTokenIssuer.StartAsync(new Dictionary<string, string> { ["publisher"] = "tok3n-Pa55" }, CancellationToken.None);
        _registry = await RegistryProcess.StartWithTokenAuthAsync(_issuer.Auth, CancellationToken.None);
        _clients = new RegistryClients(_registry.Host, o => o.PlainHttpRegistries.Add($"{_issuer.Realm.Host}:{_issuer.Realm.Port}")); // the issuer is plain http on 127.0.0.1 too
    }

    public async Task DisposeAsync()
    {
        _clients.Dispose();
        await _registry.DisposeAsync();
        await _issuer.DisposeAsync();
    }

    private OciReference Ref(string repositoryAndTag) => OciReference.Parse($"oci://{_registry.Host}/{repositoryAndTag}");

    [Fact]
    public async Task PushesAndPullsWithBearerTokensCachedPerScope()
    {
        var model = await GruTestModels.WriteAsync();
        var models = _clients.Models(RegistryCredentials.For(_registry.Host, "publisher", "tok3n-Pa55"));

        var pushed = await models.PushAsync(model.Path, TestArtifacts.Config(), Ref("models/recs:1.0"), null, null, CancellationToken.None);
        var afterPush = _issuer.Issued;
        var resolved = await models.ResolveAsync(Ref("models/recs:1.0"), CancellationToken.None);
        var output = TestArtifacts.TempPath();
        await models.PullAsync(resolved, output, null, CancellationToken.None);
        await models.ResolveAsync(Ref("models/recs:1.0"), CancellationToken.None);

        Assert.Equal(pushed.ManifestDigest, resolved.ManifestDigest);
        Assert.Equal(await File.ReadAllBytesAsync(model.Path), await File.ReadAllBytesAsync(output));
        // One token for the push scope (HEAD, POST, PUT, config, manifest), one for the pull scope, reused after.
        Assert.Equal(1, afterPush);
        Assert.Equal(2, _issuer.Issued);
    }

    [Fact]
    public async Task AnonymousPullIsAllowedWhereTheIssuerGrantsItButPushIsNot()
    {
        var model = await GruTestModels.WriteAsync();
        await _clients.Models(RegistryCredentials.For(_registry.Host, "publisher", "tok3n-Pa55"))
            .PushAsync(model.Path, TestArtifacts.Config(), Ref("models/recs:1.0"), null, null, CancellationToken.None);
        _issuer.AnonymousPull = true;
        var anonymous = _clients.Models();

        var resolved = await anonymous.ResolveAsync(Ref("models/recs:1.0"), CancellationToken.None);
        var error = await Assert.ThrowsAsync<RegistryException>(() =>
            anonymous.PushAsync(model.Path, TestArtifacts.Config(), Ref("models/recs:2.0"), null, null, CancellationToken.None));

        Assert.Equal($"sha256:{model.Sha256}", resolved.LayerDigest.ToString());
        Assert.Equal(RegistryErrorKind.Unauthorized, error.Kind);
        Assert.StartsWith($"oci://{_registry.Host}/models/recs:2.0:", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WrongCredentialsAreRefusedByTheTokenService()
    {
        var error = await Assert.ThrowsAsync<RegistryException>(() => _clients.Models(RegistryCredentials.For(_registry.Host, "publisher", "nope"))
            .ResolveAsync(Ref("models/recs:1.0"), CancellationToken.None));

        Assert.Equal(RegistryErrorKind.Unauthorized, error.Kind);
        Assert.StartsWith($"oci://{_registry.Host}/models/recs:1.0: the token service {_issuer.Realm} refused the credentials of 'publisher'", error.Message, StringComparison.Ordinal);
        Assert.Contains("repository:models/recs:pull", error.Message, StringComparison.Ordinal);
    }
}

/// <summary>The real registry over https with a certificate from a private CA: trusted with the CA file, refused without.</summary>
public sealed class TlsRegistryTests : IAsyncLifetime
{
    private RegistryProcess _registry = null!;

    public async Task InitializeAsync() => _registry = await RegistryProcess.StartWithTlsAsync(CancellationToken.None);

    public async Task DisposeAsync() => await _registry.DisposeAsync();

    [Fact]
    public async Task TrustsTheRegistryThroughTheCustomCaFile()
    {
        var model = await GruTestModels.WriteAsync();
        var reference = OciReference.Parse($"oci://{_registry.Host}/models/recs:1.0");
        using var clients = new RegistryClients("plain-http-for-no-one:1", o => o.CaCertificateFile = _registry.CaCertificateFile);

        var pushed = await clients.Models().PushAsync(model.Path, TestArtifacts.Config(), reference, null, null, CancellationToken.None);
        var resolved = await clients.Models().ResolveAsync(reference, CancellationToken.None);

        Assert.Equal(pushed.ManifestDigest, resolved.ManifestDigest);
    }

    [Fact]
    public async Task WithoutTheCaTheCertificateIsRefusedClearly()
    {
        var reference = OciReference.Parse($"oci://{_registry.Host}/models/recs:1.0");
        using var clients = new RegistryClients("plain-http-for-no-one:1", o => o.MaxRetries = 0);

        var error = await Assert.ThrowsAsync<RegistryException>(() => clients.Models().ResolveAsync(reference, CancellationToken.None));

        Assert.Equal(RegistryErrorKind.Unreachable, error.Kind);
        Assert.StartsWith($"{reference}: the registry {_registry.Host} is unreachable: The SSL connection could not be established", error.Message, StringComparison.Ordinal);
        Assert.Contains("trust it with Registry:CaCertificateFile (gru-model --ca-file)", error.Message, StringComparison.Ordinal);
    }
}
