using GruRegistry.Distribution;

namespace GruRegistry.Tests.Distribution;

/// <summary>Registry options are checked at start and errors name the key to fix.</summary>
public sealed class RegistryOptionsValidationTests
{
    public static TheoryData<string, Action<RegistryOptions>, string> Invalid => new()
    {
        { "attempt longer than total", o => o.AttemptTimeout = TimeSpan.FromMinutes(5), "Registry:AttemptTimeout must be positive and no longer than Registry:TotalTimeout" },
        { "no upload time", o => o.UploadTimeout = TimeSpan.Zero, "Registry:UploadTimeout must be positive" },
        { "too many retries", o => o.MaxRetries = 11, "Registry:MaxRetries must be between 0 and 10, got 11" },
        { "tiny chunks", o => o.ChunkSize = 4096, "Registry:ChunkSize must be at least 1 MiB (1048576), got 4096" },
        { "missing CA file", o => o.CaCertificateFile = "/nonexistent/ca.pem", "Registry:CaCertificateFile '/nonexistent/ca.pem' does not exist" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void RefusesNamingTheKey(string scenario, Action<RegistryOptions> change, string message)
    {
        var options = new RegistryOptions();
        change(options);

        var result = new RegistryOptionsValidation().Validate(null, options);

        Assert.True(result.Failed, scenario);
        Assert.Contains(message, result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void AcceptsTheDefaults() => Assert.True(new RegistryOptionsValidation().Validate(null, new RegistryOptions()).Succeeded);
}
