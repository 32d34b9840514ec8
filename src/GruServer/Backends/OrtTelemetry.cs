using System.Runtime.InteropServices;

namespace GruServer.Backends;

/// <summary>
/// Keeps ONNX Runtime's own telemetry off unless the environment asks for it. Its Linux and macOS packages send usage
/// events to Microsoft (1DS) by default since 1.29 and keep a device id and an event cache under $HOME/.cache; a model
/// server in a customer's cluster must not phone home, so GruServer sets ONNX Runtime's opt-out before ONNX Runtime is
/// first touched: ORT_DISABLE_TELEMETRY=1, the variable 1.31's library reads (checked: with it, nothing is written under
/// $HOME; ORT_TELEMETRY_DISABLED, named in later sources, does nothing in 1.31). An explicit value in the environment wins.
/// </summary>
internal static partial class OrtTelemetry
{
    /// <summary>ONNX Runtime's opt-out variable, read once with getenv when its environment is created.</summary>
    public const string OptOutVariable = "ORT_DISABLE_TELEMETRY";

    /// <summary>Sets the opt-out in the native environment unless it is already set; safe to call more than once.</summary>
    public static void OptOutUnlessAsked()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return; // Windows builds report through ETW, governed by the OS's own settings.
        }

        // .NET's Environment.SetEnvironmentVariable changes only the managed copy on Unix, which native code never sees.
        _ = SetEnv(OptOutVariable, "1", overwrite: 0);
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
