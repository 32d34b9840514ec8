using System.Diagnostics;

namespace TestSupport;

/// <summary>The real gru-model command (its build output run with dotnet), for tests of its behaviour as users see it.</summary>
public static class GruModelCommand
{
    /// <summary>Runs gru-model with <paramref name="arguments"/>; returns the exit code, stdout and stderr.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(
        IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string>? environment = null, string? stdin = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        start.ArgumentList.Add(BuildOutput.Locate("src/GruModelCli", "gru-model.dll"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // No registry credentials leak in from the machine running the tests.
        start.Environment["DOCKER_CONFIG"] = Path.Combine(Path.GetTempPath(), "gru-no-docker-config");
        start.Environment.Remove("GRU_REGISTRY_USERNAME");
        start.Environment.Remove("GRU_REGISTRY_PASSWORD");
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }

        process.StandardInput.Close();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
        return (process.ExitCode, await stdout, await stderr);
    }
}
