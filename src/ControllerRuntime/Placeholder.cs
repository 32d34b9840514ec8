namespace ControllerRuntime; internal static class Placeholder;
