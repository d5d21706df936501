@rem Runs the pinned Gradle through the wrapper jar; see gradlew for why the
@rem jar is made once with `gradle wrapper` rather than committed.
@echo off
set APP_HOME=%~dp0
set WRAPPER_JAR=%APP_HOME%gradle\wrapper\gradle-wrapper.jar
if not exist "%WRAPPER_JAR%" (
  echo gradle\wrapper\gradle-wrapper.jar is missing. Create it once with an installed Gradle 8: 1>&2
  echo   cd android-app ^&^& gradle wrapper --gradle-version 8.13 --distribution-type bin 1>&2
  echo or open android-app in Android Studio. 1>&2
  exit /b 1
)
set JAVACMD=java
if defined JAVA_HOME set JAVACMD=%JAVA_HOME%\bin\java
"%JAVACMD%" %DEFAULT_JVM_OPTS% %JAVA_OPTS% %GRADLE_OPTS% "-Dorg.gradle.appname=gradlew" -classpath "%WRAPPER_JAR%" org.gradle.wrapper.GradleWrapperMain %*
